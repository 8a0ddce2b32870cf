"""Fixtures of the viewer tests: a real headless Chromium (Debian's chromium + chromedriver, driven
by Selenium) and the screenshot helper, shared by the run and the evaluation viewer's tests.

Why a real browser: the pages' filters, pages and escaping live in their script; only a browser
running it shows that a filter shows the right items and that no text of a folder runs as code.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
#: where a test run may collect the screenshots (CI uploads this folder)
ARTIFACTS = "BIOINSTRUCT_TEST_ARTIFACTS"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium WebDriver with its browser console log kept; skips without the browser."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            f"headless browser test needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1400,1800", f"--user-data-dir={tmp_path / 'chromium-profile'}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def save_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """The browser's window as ``tmp_path/name``, copied to ``$BIOINSTRUCT_TEST_ARTIFACTS`` when set."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    artifacts = os.environ.get(ARTIFACTS)
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path
