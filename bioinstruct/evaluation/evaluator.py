"""``Evaluator``: run benchmarks on a model and its adapters, with the protocol next to every number.

Why the shape: one backend (one loaded base model) serves every variant — the bare base and
each LoRA adapter — and every benchmark, so N adapters cost one model load. Predictions are
cached per (model, adapter, benchmark, protocol, item) in append-only JSONL files written
after each chunk, so an interrupted run resumes where it stopped and a rerun of a finished
run computes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bioinstruct import formatting
from bioinstruct.benchmarks import Benchmark, Item, select, skip_reason
from bioinstruct.errors import ConfigError, DataError
from bioinstruct.evaluation import cot as cot_protocol
from bioinstruct.evaluation.backends import Backend, make_backend
from bioinstruct.evaluation.cot import CotSettings
from bioinstruct.evaluation.prediction_cache import PredictionCache, cache_key
from bioinstruct.evaluation.prompting import (
    CHAT,
    PLAIN,
    check_template,
    render,
    select_demonstrations,
)
from bioinstruct.evaluation.protocols import ALL, PROTOCOL_WORDS, PROTOCOLS, expand, parse_protocols
from bioinstruct.evaluation.report import BenchmarkResult, EvalResults
from bioinstruct.evaluation.scoring import describe_scoring
from bioinstruct.evaluation.scoring import score as _score

logger = logging.getLogger(__name__)

_CHUNK = 64


class Evaluator:
    """Evaluate ``model`` (and each of ``adapters`` over the same loaded base) on benchmarks.

    ``backend`` is ``hf`` (transformers + peft), ``openai`` (any OpenAI-compatible endpoint;
    generative only) or ``vllm``; ``backend_options`` go to it (``dtype``, ``device``,
    ``batch_size``, ``base_url``, ...). ``cache_dir`` enables resumable runs.
    """

    def __init__(
        self,
        model: str,
        adapters: Sequence[str] | None = None,
        backend: str | Backend = "hf",
        *,
        cache_dir: str | Path | None = None,
        backend_options: Mapping[str, Any] | None = None,
        progress: bool = True,
        bertscore_model: str | None = None,
        bertscore_layers: int | None = None,
    ) -> None:
        self.model = str(model)
        #: BERTScore for the ROUGE-scored generation benchmarks (a local folder or cached Hub id), or off.
        self.bertscore = (bertscore_model, bertscore_layers) if bertscore_model else None
        self.adapters = list(adapters or [])
        #: A backend name, or any object implementing the Backend interface (custom backends).
        self.backend_name = backend if isinstance(backend, str) else type(backend).__name__
        self._backend: Backend | None = None if isinstance(backend, str) else backend
        self.backend_options = dict(backend_options or {})
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.progress = progress

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = make_backend(
                self.backend_name, self.model, adapters=self.adapters, **self.backend_options
            )
        return self._backend

    def run(
        self,
        benchmarks: str | Sequence[str],
        *,
        limit: int | None = None,
        data_files: Mapping[str, str | Path] | None = None,
        fewshot_files: Mapping[str, str | Path] | None = None,
        protocol: str | Sequence[str] | None = None,
        num_fewshot: int | None = None,
        template: str = "bioinstruct",
        seed: int = 0,
        judge: Any = None,
        cot_max_new_tokens: int = 512,
        cot_samples: int = 1,
        cot_temperature: float = 0.7,
        cot_template: str = cot_protocol.AUTO,
    ) -> EvalResults:
        """Score every variant on ``benchmarks`` (names and/or groups).

        ``protocol`` (multiple choice): ``loglik``, ``generate``, ``cot``, a comma list (or sequence)
        of them, each a result of its own, or ``all`` (every protocol the backend offers); default:
        log-likelihood where the backend supports it, else generative. Generation benchmarks are
        always generative (one result). ``cot_*`` configure chain of thought (:class:`CotSettings`).
        ``num_fewshot`` defaults to each benchmark's own (0 for QA, as in the paper). Group members
        that need local data not given in ``data_files`` are skipped and listed in ``EvalResults.skipped``.
        """
        check_template(template)
        requested = parse_protocols(protocol)
        cot = CotSettings(cot_max_new_tokens, cot_samples, cot_temperature, cot_template)
        wants_cot = requested is not None and ("cot" in requested or requested == (ALL,))
        if not wants_cot and cot != CotSettings():
            logger.warning("the --cot-* settings have no effect without cot in --protocol")
        if wants_cot and cot.sampling and self._backend is not None and not hasattr(self._backend, "sample"):
            raise ConfigError(
                f"the {self.backend_name!r} backend cannot sample (no sample()); use --cot-samples 1"
            )
        if limit is not None and limit < 1:
            raise ConfigError(f"limit must be >= 1, got {limit}")
        if num_fewshot is not None and num_fewshot < 0:
            raise ConfigError(f"num_fewshot must be >= 0, got {num_fewshot}")
        data_files = {k: str(v) for k, v in (data_files or {}).items()}
        fewshot_files = {k: str(v) for k, v in (fewshot_files or {}).items()}
        # Groups run what loads here and list the rest; an explicitly named benchmark loads or fails.
        loaded, skipped = select(benchmarks, data_files, nothing="nothing to evaluate")
        for name in [*data_files, *fewshot_files]:
            if name not in {entry.benchmark.name for entry in loaded} and name not in skipped:
                logger.warning("a data file was given for %r, which is not being evaluated", name)
        prepared = []
        for entry in loaded:  # load everything first: a bad file fails before any model time is spent
            bench, rows = entry.benchmark, entry.rows
            if bench.task == "generation" and requested == ("cot",):  # CoT reads a choice: none here
                why = "a generation benchmark (free text); --protocol cot is for multiple choice"
                if entry.explicit:
                    raise ConfigError(f"{bench.name!r} is {why}: drop it from --benchmarks or run it apart")
                skipped[bench.name] = why
                continue
            shots = bench.default_num_fewshot if num_fewshot is None else num_fewshot
            if wants_cot and shots and bench.task == "multiple_choice":
                raise ConfigError(
                    f"--protocol cot is zero-shot (no benchmark has written-out reasoning to show), but "
                    f"{bench.name!r} would get {shots} demonstrations: pass --num-fewshot 0, or run "
                    "the few-shot protocols in another call"
                )
            items_note = bench.describe_items(entry.data_file, len(rows))
            rows = rows[:limit] if limit else rows
            items = _unique_ids(bench.items(rows, source=entry.data_file or ""))
            try:
                demos = self._demonstrations(bench, items, num_fewshot, seed, data_files, fewshot_files)
            except DataError as err:  # a group member's Hub train split, not here (offline)
                if entry.explicit or bench.name in fewshot_files:
                    raise
                skipped[bench.name] = (
                    f"no few-shot demonstrations here: {skip_reason(bench, err, fewshot=True)}"
                )
                continue
            prepared.append((bench, rows, items, demos, items_note))
        if not prepared:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped.items())
            spec = benchmarks if isinstance(benchmarks, str) else ", ".join(benchmarks)
            raise ConfigError(f"nothing to evaluate in {spec} ({reasons})")
        backend = self.backend
        chosen = expand(requested, backend.supports_loglikelihood) if requested else None
        if chosen and "loglik" in chosen and not backend.supports_loglikelihood:
            raise ConfigError(
                f"the {self.backend_name!r} backend cannot score log-likelihoods; use --protocol generate or cot"
            )
        results = []
        for variant in backend.variants():
            backend.set_variant(variant)
            for bench, rows, items, demos, items_note in prepared:
                if bench.task == "generation":
                    protocols: Sequence[str] = ["generate"]
                else:
                    protocols = chosen or ["loglik" if backend.supports_loglikelihood else "generate"]
                for name in protocols:
                    result = self._run_one(
                        bench, rows, items, demos, variant, name, template, limit, data_files, seed, cot
                    )
                    result.protocol["items"] = items_note  # which items: the Hub split, or the supplied file
                    if judge is not None and bench.judge_axes:
                        _apply_judge(judge, bench, items, result)
                    for line in result.warnings:  # one line per problem, e.g. a constant answer
                        logger.warning(line)
                    results.append(result)
        return EvalResults(results, skipped)

    # -- preparation ---------------------------------------------------------------------------
    def _demonstrations(
        self,
        bench: Benchmark,
        items: list[Item],
        num_fewshot: int | None,
        seed: int,
        data_files: Mapping[str, str],
        fewshot_files: Mapping[str, str],
    ) -> list[Item]:
        shots = bench.default_num_fewshot if num_fewshot is None else num_fewshot
        if shots == 0:
            return []
        source = fewshot_files.get(bench.name)
        pool = bench.items(bench.load_fewshot_rows(source), source=source or "")
        same_file = source is not None and source == data_files.get(bench.name)
        return select_demonstrations(
            pool, shots, seed=seed, exclude_ids=[i.id for i in items] if same_file else ()
        )

    # -- running -------------------------------------------------------------------------------
    def _run_one(
        self,
        bench: Benchmark,
        rows: list[dict],
        items: list[Item],
        demos: list[Item],
        variant: str | None,
        protocol: str,
        template: str,
        limit: int | None,
        data_files: Mapping[str, str],
        seed: int,
        cot: CotSettings,
    ) -> BenchmarkResult:
        backend = self.backend
        if protocol == "cot":  # zero-shot, its own template, budget and stop strings
            template = cot_protocol.resolve_template(cot.template, template, backend)
            demos = []
            prompts = [cot_protocol.render_cot(item, template) for item in items]
            stop = cot_protocol.stop_strings(template, _opening(template))
            max_new_tokens = cot.max_new_tokens
            settings: tuple[Any, ...] = (cot.cache_identity(seed),)
        else:
            prompts = [render(item, template, demos) for item in items]
            stop = _stop_strings(template)
            max_new_tokens, settings = bench.max_new_tokens, ()
        texts = [backend.prompt_text(prompt) for prompt in prompts]
        adapter_path = dict(_adapter_pairs(backend)).get(variant) if variant else None
        info = backend.info()
        dtype = info.get("dtype")  # a bf16 run must not reuse float32 predictions
        endpoint = info.get("endpoint")  # two servers serving the same model name are different models
        # Weights retrained in place (same folder) must not reuse the old predictions.
        weights = [_weights_fingerprint(self.model), _weights_fingerprint(adapter_path)]
        cache = PredictionCache(
            self.cache_dir, bench.name, self.model, variant, adapter_path, protocol, dtype, endpoint, *weights
        )
        # The raw replies are cached, not the answers read from them: a changed extraction rule
        # rescores without generating again, while a changed prompt, budget or sampling setting misses.
        keys = [
            cache_key(
                item.id, text, item.labels, prompt.target_delimiter, protocol, max_new_tokens, stop, *settings
            )
            for item, text, prompt in zip(items, texts, prompts, strict=True)
        ]
        todo = [i for i, key in enumerate(keys) if key not in cache.entries]
        label = f"{variant or 'base'} | {bench.name}" + (f" | {protocol}" if protocol == "cot" else "")
        bar = _progress_bar(len(items), len(items) - len(todo), label, self.progress)
        counting = hasattr(backend, "truncation_counts")  # one truncation line per benchmark, not per chunk
        if counting:
            backend.truncation_counts = [0, 0]
        try:
            for start in range(0, len(todo), _CHUNK):
                chunk = todo[start : start + _CHUNK]
                if protocol == "loglik":
                    requests = [
                        (texts[i], [prompts[i].target_delimiter + label for label in items[i].labels or []])
                        for i in chunk
                    ]
                    outputs: list[Any] = backend.loglikelihood(requests, progress=bar.update)
                elif protocol == "cot" and cot.sampling:
                    outputs = backend.sample(  # type: ignore[attr-defined]
                        [prompts[i] for i in chunk],
                        n=cot.samples,
                        temperature=cot.temperature,
                        max_new_tokens=max_new_tokens,
                        stop=stop,
                        seed=seed,
                        progress=bar.update,
                    )
                else:
                    outputs = backend.generate(
                        [prompts[i] for i in chunk],
                        max_new_tokens=max_new_tokens,
                        stop=stop,
                        progress=bar.update,
                    )
                cache.add({keys[i]: output for i, output in zip(chunk, outputs, strict=True)})
        finally:
            bar.close()
            if counting:
                cut, total = backend.truncation_counts
                backend.truncation_counts = None
                if cut:
                    note = backend.truncation_message(cut, total)
                    logger.warning("%s (%s): %s", bench.name, variant or "base", note)
        raw = [cache.entries[key] for key in keys]
        result = _score(bench, rows, items, texts, raw, protocol, bertscore=self.bertscore)
        result.model, result.adapter = self.model, variant
        chat_template = cot_protocol.chat_template_name(backend, template)
        result.protocol = {
            "task": bench.task,
            "name": protocol,
            "protocol": PROTOCOL_WORDS[protocol][0],
            "scoring": describe_scoring(bench, protocol, cot),
            "template": template,
            "chat_template": chat_template,
            "num_fewshot": len(demos),
            "fewshot_seed": seed if demos else None,
            "demo_ids": [d.id for d in demos],
            "model": self.model,
            "adapter": variant,
            "adapter_path": adapter_path,
            "data_source": f"local file {data_files[bench.name]}"
            if bench.name in data_files
            else bench.source,
            "items": bench.items_note,
            "limit": limit,
            "max_new_tokens": max_new_tokens if protocol != "loglik" else None,
            "backend": backend.info(),
        }
        if protocol == "cot":
            result.protocol["cot"] = cot.record(seed, template, chat_template, stop)
        return result


def _apply_judge(judge: Any, bench: Benchmark, items: list[Item], result: BenchmarkResult) -> None:
    payload = [
        {
            "id": item.id,
            "question": item.question or item.input,
            "prediction": sample["prediction"],
            "reference": item.reference,
        }
        for item, sample in zip(items, result.samples, strict=True)
    ]
    result.add_judgement(judge.score(bench.name, payload))


def _unique_ids(items: list[Item]) -> list[Item]:
    seen: dict[str, int] = {}
    for item in items:
        count = seen.get(item.id, 0)
        seen[item.id] = count + 1
        if count:
            item.id = f"{item.id}#{count}"
    return items


def _weights_fingerprint(path: str | None) -> list[tuple[str, int, int]] | None:
    """(name, size, mtime) of the weight and config files of a local model/adapter folder, else None."""
    folder = Path(path) if path else None
    if folder is None or not folder.is_dir():
        return None
    suffixes = {".safetensors", ".bin", ".pt", ".pth", ".json", ".gguf"}
    return [
        (file.name, stat.st_size, stat.st_mtime_ns)
        for file in sorted(folder.iterdir())
        if file.is_file() and file.suffix in suffixes and (stat := file.stat())
    ]


def _stop_strings(template: str) -> list[str]:
    if template == PLAIN:
        return ["\n\n"]
    if template == CHAT:
        return []
    # Also stop where a model starts the next demonstration ("\n\nBelow is an instruction ..."),
    # which few-shot prompts teach it to do; otherwise that text is scored as part of the answer.
    return ["\n\n### ", "\n### ", f"\n\n{_opening(template)}"]


def _opening(template: str) -> str:
    """The first words of a text template's prompt ("Below is an instruction"): where a new one starts."""
    return (
        " ".join(formatting.render_prompt("x", "", template).split()[:4])
        if template not in (PLAIN, CHAT)
        else ""
    )


def _adapter_pairs(backend: Backend) -> list[tuple[str, str]]:
    return list((backend.info().get("adapters") or {}).items())


def _progress_bar(total: int, done: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=desc, unit="item", leave=False, disable=not enabled)


__all__ = ["PROTOCOLS", "Evaluator", "PredictionCache"]
