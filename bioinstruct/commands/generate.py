"""`bioinstruct generate`: the BioInstructBuilder from the command line.

Why no ``--api-key`` flag: a key on the command line lands in shell history and process lists.
The key comes from OPENAI_API_KEY (or AZURE_OPENAI_API_KEY); the endpoint from ``--base-url`` or
OPENAI_BASE_URL. Rerunning the same command resumes the run in ``--output-dir``.

The options are the fields of :class:`~bioinstruct.generation.config.GenerateConfig`: flags, a
``--config`` YAML file under them, and ``<output-dir>/generate.yaml``, the effective configuration
each run writes (without the key), so ``bioinstruct generate --config <output-dir>/generate.yaml``
reruns or resumes it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
from pathlib import Path

from bioinstruct.argparsing import ArgumentParser
from bioinstruct.config_files import add_config_arguments
from bioinstruct.errors import ConfigError
from bioinstruct.generation.config import GenerateConfig

logger = logging.getLogger(__name__)


def add_arguments(parser: ArgumentParser) -> None:
    """One flag per :class:`GenerateConfig` field, and ``--config generate.yaml``."""
    add_config_arguments(parser, GenerateConfig)


def _check_export_path(path: str) -> None:
    """Fail before the run, not after hours of generation, when the export cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(
            f"--export-alpaca {path!r} is a folder; pass a file path such as {path}/alpaca.json"
        )
    parent = next((p for p in target.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--export-alpaca {path!r}: {str(parent)!r} is a file, not a folder")


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _decontamination(config: GenerateConfig):
    """The benchmark-overlap rule of ``--decontaminate`` (its test items loaded now: a bad file fails
    before any request), or None."""
    from bioinstruct.cli_args import parse_name_path_pairs

    files = parse_name_path_pairs(config.decontamination_data_file, "--decontamination-data-file")
    if not config.decontaminate:
        if files:
            raise ConfigError("--decontamination-data-file was given without --decontaminate BENCHMARKS")
        return None
    from bioinstruct.benchmarks import register_yaml
    from bioinstruct.decontamination import BenchmarkOverlap

    for path in config.include_path or []:
        register_yaml(path)
    return BenchmarkOverlap.for_benchmarks(config.decontaminate, data_files=files)


def run(args: argparse.Namespace) -> int:
    from bioinstruct.config_files import recording_config
    from bioinstruct.generation.builder import BioInstructBuilder
    from bioinstruct.generation.journal import RUN_JSON

    config: GenerateConfig = args.config
    if config.export_alpaca:
        _check_export_path(config.export_alpaca)
    decontamination = _decontamination(config)  # names and files checked now; test items load later
    api_key = os.environ.get("OPENAI_API_KEY") or os.environ.get("AZURE_OPENAI_API_KEY")
    if not api_key:  # before the run folder exists: a failed start leaves nothing behind
        server = config.base_url or os.environ.get("OPENAI_BASE_URL")
        raise ConfigError(
            "no teacher API key: set OPENAI_API_KEY (Azure: AZURE_OPENAI_API_KEY); a local server that "
            "checks no key accepts any value, e.g. OPENAI_API_KEY=local"
            + ("" if server else " with --base-url http://localhost:8000/v1")
        )
    builder = BioInstructBuilder(config, api_key=api_key, decontamination=decontamination)
    config_file = builder.output_dir / GenerateConfig.CONFIG_FILE
    header = (
        "The configuration of this `bioinstruct generate` run (the API key comes from "
        "OPENAI_API_KEY, never a file).\n"
        f"Rerun or resume it with: bioinstruct generate --config {shlex.quote(str(config_file))}"
    )
    run_json = builder.output_dir / RUN_JSON
    before = _read(run_json)
    # A start that fails (bad benchmark name, unreadable data) leaves generate.yaml as it was; once a
    # session has started (run.json rewritten), the file describes the rows it made and stays.
    with recording_config(config, config_file, header, keep_on_error=lambda: _read(run_json) != before):
        dataset = builder.build()
    if config.export_alpaca:
        builder.export_alpaca(config.export_alpaca, limit=config.num_instructions)
    summary = {
        "rows": len(dataset),
        "target": config.num_instructions,
        "stop_reason": builder.stop_reason,
        "output_dir": str(builder.output_dir),
    }
    print(json.dumps(summary))
    if len(dataset) < config.num_instructions and builder.stop_reason == "zero_yield":
        return 1  # the session already said why, in one line (builder.stop_message)
    if len(dataset) < config.num_instructions:
        how = (
            "raise --max-cost-usd (it caps the whole run) and rerun to continue"
            if builder.stop_reason == "budget"
            else "rerun the same command to continue"
        )
        logger.warning(
            "stopped at %d of %d rows (%s); %s",
            len(dataset),
            config.num_instructions,
            builder.stop_reason,
            how,
        )
        return 1
    return 0
