"""What ``bioinstruct quickstart`` leaves on disk besides the stages' own outputs.

Why its own module: the quickstart is rerun into the same folder, so the adapter folder carries a
record of what was trained there (reused when the settings match and training finished, resumed when
interrupted, redone when the settings changed, and never deleted when the quickstart did not write
it), and the report folder ties the evaluation, the cards and the full-scale commands together.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bioinstruct.errors import ConfigError
from bioinstruct.jsonio import write_text_atomically

#: In the adapter folder: what the quickstart trained there (model, steps, data), to reuse or redo it.
TRAINING_RECORD = "quickstart.json"


def reuse_adapter(adapter_dir: Path, record: dict[str, Any]) -> bool:
    """Whether an earlier run already trained this adapter (same model, steps and data).

    Otherwise the folder is made ready for training: kept when an interrupted run with the same
    settings left checkpoints there (training resumes from the last one), emptied when it holds
    another model's, step count's or data's run. A folder the quickstart did not make is refused,
    never deleted.
    """
    marker = adapter_dir / TRAINING_RECORD
    if adapter_dir.exists():
        try:
            earlier = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = None
        if earlier is None and any(adapter_dir.iterdir()):
            raise ConfigError(
                f"{str(adapter_dir)!r} holds files the quickstart did not write (no {TRAINING_RECORD}); "
                "pass a new --output-dir"
            )
        if earlier == record:
            state = adapter_dir / "trainer_state.json"  # written after the final save: training finished
            try:
                finished = (
                    json.loads(state.read_text(encoding="utf-8")).get("global_step", 0) >= record["steps"]
                )
            except (OSError, ValueError, AttributeError):
                finished = False
            return finished and (adapter_dir / "adapter_model.safetensors").is_file()
        shutil.rmtree(adapter_dir)  # another model, step count or data: start over
    adapter_dir.mkdir(parents=True)
    write_text_atomically(marker, json.dumps(record, indent=2) + "\n")
    return False


def write_report(
    report: Path,
    eval_dir: Path,
    adapter_dir: Path,
    generation_dir: Path | None,
    decontamination: dict[str, Any] | None,
    full_scale: dict[str, str],
    choice: Any = None,
    data_files: dict[str, str] | None = None,
) -> Path:
    """Copy the results and chart, write the Hub dry-run folders and a README that ties them together."""
    from bioinstruct.evaluation.report import CHART_FILE, MARKDOWN_FILE, RESULTS_FILE
    from bioinstruct.hub import DATASET_REPO_NAMES, push_adapter, push_dataset
    from bioinstruct.hub_upload import check_dry_run_target

    hub = report / "hub"
    report.mkdir(parents=True, exist_ok=True)
    for name in (RESULTS_FILE, MARKDOWN_FILE, CHART_FILE):
        if (eval_dir / name).is_file():
            shutil.copy2(eval_dir / name, report / name)
    adapter_folder = push_adapter(
        adapter_dir,
        "your-name/bioinstruct-quickstart-lora",
        results=eval_dir / RESULTS_FILE,
        dry_run=hub / "adapter",
    )
    dataset_folder = None
    if generation_dir is not None:
        dataset_folder = push_dataset(
            generation_dir, "your-name/bioinstruct-quickstart", dry_run=hub / "dataset"
        )
    elif (hub / "dataset").exists():  # an earlier run's card, of rows this run did not train on
        check_dry_run_target(hub / "dataset", DATASET_REPO_NAMES)  # only ever an earlier dry run
        shutil.rmtree(hub / "dataset")
    from bioinstruct.quickstart_verdict import checks, verdict_lines

    lines = [
        "# bioinstruct quickstart report",
        "",
        "Every stage ran through the code used at full scale; only the sizes differ.",
    ]
    if choice is None or choice.tiny:
        lines += [
            "The tiny model has random weights, so its scores say nothing about BioInstruct: they show that the "
            "pipeline runs.",
        ]
    else:
        lines += [
            f"Model: {choice.label}; trained and scored (base and adapter alike) in {choice.template_words}, "
            "so a difference is the tuning's, not the prompt format's."
        ]
    lines += ["", "## Verdict", "", *verdict_lines(eval_dir), ""]
    lines += ["## Checks", "", *checks(eval_dir), ""]
    lines += [
        "## Results (base vs adapter, unmerged)",
        "",
        (eval_dir / MARKDOWN_FILE).read_text(encoding="utf-8").strip(),
        "",
    ]
    if (report / CHART_FILE).is_file():
        lines += [f"![results]({CHART_FILE})", ""]
    lines += ["## Files", ""]
    lines.append(f"- Model card and the exact folder `push adapter` would upload: `{Path(adapter_folder)}`")
    if dataset_folder:
        lines.append(
            f"- Dataset card and the exact folder `push dataset` would upload: `{Path(dataset_folder)}`"
        )
    else:
        lines.append(
            "- No dataset card: the data were the bundled seed tasks (no teacher endpoint was configured)"
        )
    if decontamination is not None:
        lines.append(
            f"- Decontamination: {decontamination['rows_flagged']} of {decontamination['rows_checked']} training rows "
            f"flagged against {', '.join(decontamination['benchmarks'])} (`{report.parent / 'data' / 'decontamination.json'}`)"
        )
    lines += ["", "## What to try next", ""]
    lines += next_steps(report.parent, adapter_dir, choice, data_files or {})
    lines += ["", "## At full scale", ""]
    lines += [f"- {stage}: `{command}`" for stage, command in full_scale.items()]
    write_text_atomically(report / "README.md", "\n".join(lines) + "\n")
    return report


def next_steps(out: Path, adapter_dir: Path, choice: Any, data_files: dict[str, str]) -> list[str]:
    """Commands to run next, with this run's own folders and data files filled in."""
    model = "smollm2" if choice is None or not choice.tiny else "tiny"
    if choice is not None and not choice.tiny and choice.label != "SmolLM2-135M-Instruct":
        model = choice.label
    data = " ".join(f"--data-file {name}={path}" for name, path in sorted(data_files.items()))
    template = choice.template if choice is not None else "bioinstruct"
    evaluate = (
        f"bioinstruct evaluate --model {model} --adapter {adapter_dir} --benchmarks "
        f"{','.join(sorted(data_files)) or 'qa'} --template {template} {data or '--data-file medqa=medqa.jsonl'} "
        f"--output-dir {out / 'eval-full'}"
    )
    return [
        f"- Train longer (the verdict above says whether {out.name} changed the model): "
        f"`bioinstruct quickstart --output-dir {out} --steps 64{' ' + data if data else ''}`",
        f"- Score every item of your QA files, not a sample: `{evaluate}`",
        f"- Use your own instructions: `bioinstruct train --config examples/recipes/small-instruct-cpu.yaml "
        f"--dataset_name my_instructions.jsonl --output_dir {out / 'my-adapter'}`",
        "- Generate instructions with a teacher first: "
        f"`bioinstruct quickstart --output-dir {out}-teacher --base-url http://localhost:8000/v1 --teacher-model NAME`",
    ]
