"""Every metric the evaluator reports, as plain functions over predictions and references.

Why one module of thin wrappers: lm-evaluation-harness computes summarisation metrics per
document through the Hub-only ``evaluate.load``; we call ``rouge_score`` (one scorer instance,
built once) and ``bert_score`` directly, so scores are reproducible offline. Corpus-level
metrics (entity-level micro F1, relation micro F1, ROUGE means) take *all* predictions and
references of a benchmark and return a ``dict[str, float]``; ``bootstrap_ci`` and
``bootstrap_micro_f1_ci`` give confidence intervals for per-item means and for micro F1.

Scores are fractions in [0, 1] (not percentages) everywhere.
"""

from __future__ import annotations

import functools
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from bioinstruct.errors import ConfigError, DataError

__all__ = [
    "accuracy",
    "bootstrap_ci",
    "bootstrap_micro_f1_ci",
    "normalize_entity",
    "parse_entity_list",
    "entity_counts",
    "entity_prf",
    "entity_item_f1",
    "parse_relation_label",
    "relation_prf",
    "rouge",
    "rouge_per_item",
    "bertscore",
]


def _check_lengths(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise DataError(
            f"got {len(predictions)} predictions but {len(references)} references; they must pair up one to one"
        )
    if not predictions:
        raise DataError("no items to score: the benchmark produced 0 predictions")


def _safe_div(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return _safe_div(2 * precision * recall, precision + recall)


# --------------------------------------------------------------------------- accuracy + CIs


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Fraction of items where the (already parsed) prediction equals the reference."""
    _check_lengths(predictions, references)
    return sum(p == r for p, r in zip(predictions, references, strict=True)) / len(predictions)


def bootstrap_ci(
    per_item_scores: Sequence[float], *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``per_item_scores``.

    Why percentile bootstrap: benchmark sizes here (a few hundred items) make the normal
    approximation poor for accuracies near 0 or 1; a fixed ``seed`` keeps reruns identical.
    """
    scores = np.asarray(list(per_item_scores), dtype=float)
    if scores.size == 0:
        raise DataError("bootstrap_ci needs at least one per-item score")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    # Chunked so a 10k-item benchmark never allocates n_resamples x n indices at once.
    chunk = max(1, 2_000_000 // scores.size)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, scores.size, size=(stop - start, scores.size))
        means[start:stop] = scores[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_micro_f1_ci(
    counts: Sequence[tuple[int, int, int]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of micro F1 from per-item ``(tp, fp, fn)`` counts.

    Why not ``bootstrap_ci``: micro F1 is not a mean of per-item scores, so items are
    resampled and the counts summed before F1 is computed, as the corpus metric does.
    """
    arr = np.asarray(list(counts), dtype=float).reshape(-1, 3)
    if arr.shape[0] == 0:
        raise DataError("bootstrap_micro_f1_ci needs at least one item")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.shape[0], size=(n_resamples, arr.shape[0]))
    sums = arr[idx].sum(axis=1)
    tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(f1, [alpha, 1.0 - alpha])
    return float(low), float(high)


# --------------------------------------------------------------------------- entity-level F1

_EDGE_PUNCT = string.punctuation + "“”‘’«»·•–—…"
_SPACE_AROUND_PUNCT = re.compile(r"\s*([^\w\s])\s*")
# Not "no": "NO" is nitric oxide in BC5CDR.
_NONE_ANSWERS = frozenset({"none", "no entities", "no entity", "n/a", "nothing", "null", "empty"})
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|\(\d+\))\s+")
_SPLIT = re.compile(r"\n|;")
_COMMA_SPLIT = re.compile(r",\s+")


def normalize_entity(text: str) -> str:
    """Case-fold, drop punctuation at the edges, and make whitespace canonical.

    Whitespace next to punctuation is removed, so the gold span rebuilt from tokens
    ``["A", "-", "T"]`` ("A - T") matches the model's "A-T"; other runs collapse to one space.
    """
    text = text.casefold().strip().strip(_EDGE_PUNCT + " \t\r\n")
    text = _SPACE_AROUND_PUNCT.sub(r"\1", text)
    return " ".join(text.split())


def parse_entity_list(text: str) -> list[str]:
    """Split a model answer into entity mentions (separated by ``;`` or new lines).

    Only an answer with neither is split at ", ": gold mentions may contain commas
    ("breast , brain , prostate and kidney cancer" in NCBI-disease), so the prompts ask for
    semicolons and commas are a fallback for models that ignore the format. List markers
    (``-``, ``1.``) are dropped; an explicit "none" (alone or as an item) means no entity.
    Mentions are returned as written (normalisation happens at matching time).
    """
    text = text or ""
    parts = _SPLIT.split(text) if _SPLIT.search(text) else _COMMA_SPLIT.split(text)
    mentions = []
    for part in parts:
        part = _LIST_MARKER.sub("", part).strip()
        norm = normalize_entity(part)
        if not norm or norm in _NONE_ANSWERS:
            continue
        mentions.append(part)
    return mentions


def entity_counts(predicted: Sequence[str], gold: Sequence[str]) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of one item by multiset matching of normalised mentions.

    A mention that occurs twice in the gold spans must be listed twice to score two hits;
    listing a mention more often than it occurs counts the surplus as false positives.
    """
    pred = Counter(n for n in (normalize_entity(m) for m in predicted) if n)
    ref = Counter(n for n in (normalize_entity(m) for m in gold) if n)
    tp = sum((pred & ref).values())
    return tp, sum(pred.values()) - tp, sum(ref.values()) - tp


def entity_item_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """Per-item F1 for the samples file (1.0 when both sides are empty: "none" was right)."""
    tp, fp, fn = entity_counts(predicted, gold)
    if tp + fp + fn == 0:
        return 1.0
    return _safe_div(2 * tp, 2 * tp + fp + fn)


def entity_prf(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Strict entity-level micro precision/recall/F1 over all items (plus the raw counts)."""
    _check_lengths(predictions, references)
    tp = fp = fn = 0
    for pred, gold in zip(predictions, references, strict=True):
        a, b, c = entity_counts(pred, gold)
        tp, fp, fn = tp + a, fp + b, fn + c
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "tp": float(tp),
        "fp": float(fp),
        "fn": float(fn),
    }


# --------------------------------------------------------------------------- relation extraction


def parse_relation_label(
    text: str, labels: Sequence[str], aliases: dict[str, str] | None = None
) -> str | None:
    """Map a model answer to one label of ``labels`` (or ``None`` when none is named).

    The label (or alias) that occurs earliest in the answer wins; at the same position the
    longer one wins, so "DDI-effect" is not read as a shorter label. Matching is
    case-insensitive and requires word boundaries; an answer that names no label is never
    guessed into one.
    """
    candidates = {label.casefold(): label for label in labels}
    for alias, label in (aliases or {}).items():
        if label not in labels:
            raise ConfigError(
                f"relation alias {alias!r} maps to {label!r}, which is not one of {list(labels)}"
            )
        candidates.setdefault(alias.casefold(), label)
    lowered = (text or "").casefold()
    best: tuple[int, int, str] | None = None
    for key, label in candidates.items():
        match = re.search(r"(?<![\w:-])" + re.escape(key) + r"(?![\w:-])", lowered)
        if match and (best is None or (match.start(), -len(key)) < (best[0], best[1])):
            best = (match.start(), -len(key), label)
    return best[2] if best else None


def relation_prf(
    predictions: Sequence[str | None],
    references: Sequence[str],
    *,
    negative_labels: Sequence[str] = ("false",),
) -> dict[str, float]:
    """Micro P/R/F1 over the positive relation classes (as BLURB reports ChemProt/DDI) + accuracy.

    A true positive is a correct positive label; a wrong or missing label on a positive item
    is a false negative; a positive label that is not the gold one is a false positive. An
    unparsed prediction (``None``) is wrong but predicts no positive class.
    """
    _check_lengths(predictions, references)
    negative = set(negative_labels)
    tp = fp = fn = 0
    for pred, gold in zip(predictions, references, strict=True):
        if pred is not None and pred not in negative:
            if pred == gold:
                tp += 1
            else:
                fp += 1
        if gold not in negative and pred != gold:
            fn += 1
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    return {
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "accuracy": accuracy(predictions, references),
    }


# --------------------------------------------------------------------------- ROUGE

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@functools.lru_cache(maxsize=8)
def _rouge_scorer(rouge_types: tuple[str, ...], use_stemmer: bool):
    """One ``RougeScorer`` per configuration, built once (it loads the Porter stemmer)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=use_stemmer)


def rouge_per_item(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    use_stemmer: bool = True,
) -> list[dict[str, float]]:
    """Per-document ROUGE F-measure; a list of references scores against the best one."""
    _check_lengths(predictions, references)
    scorer = _rouge_scorer(tuple(rouge_types), use_stemmer)
    out = []
    for pred, ref in zip(predictions, references, strict=True):
        if isinstance(ref, str):
            scores = scorer.score(ref, pred or "")
        else:
            if not ref:
                raise DataError("an item has an empty list of reference texts; ROUGE needs at least one")
            scores = scorer.score_multi(list(ref), pred or "")
        out.append({name: float(scores[name].fmeasure) for name in rouge_types})
    return out


def rouge(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    use_stemmer: bool = True,
) -> dict[str, float]:
    """Corpus ROUGE: the mean over documents of each document's F-measure."""
    per_item = rouge_per_item(predictions, references, rouge_types=rouge_types, use_stemmer=use_stemmer)
    return {name: sum(s[name] for s in per_item) / len(per_item) for name in rouge_types}


# --------------------------------------------------------------------------- BERTScore

BERTSCORE_INSTALL = "pip install 'bioinstruct[bertscore]'"


def bertscore(
    predictions: Sequence[str],
    references: Sequence[str],
    *,
    model_type: str = "roberta-large",
    num_layers: int | None = None,
    batch_size: int = 16,
    device: str | None = None,
    _scorer: Callable | None = None,
) -> dict[str, float]:
    """Mean BERTScore precision/recall/F1 (optional: needs the ``bertscore`` extra and a model).

    ``model_type`` may be a Hub id already in the local cache or a local folder; offline runs
    (``HF_HUB_OFFLINE=1``) cannot download it, and the error says so instead of a stack trace.
    """
    _check_lengths(predictions, references)
    if _scorer is None:
        try:
            import bert_score
        except ImportError as exc:
            raise ConfigError(
                f"BERTScore needs the optional package bert-score: {BERTSCORE_INSTALL} "
                "(or run without --bertscore-model / BIOINSTRUCT_BERTSCORE_MODEL)"
            ) from exc
        _scorer = bert_score.score
    try:
        precision, recall, f1 = _scorer(
            [p or "" for p in predictions],
            list(references),
            model_type=model_type,
            num_layers=num_layers,
            batch_size=batch_size,
            device=device,
        )
    except (OSError, KeyError, ValueError) as exc:
        raise ConfigError(
            f"BERTScore could not load model {model_type!r}: it must be a local folder or already in the "
            f"Hugging Face cache when offline (HF_HUB_OFFLINE=1), and bert-score must know its layer count "
            f"(pass num_layers for an unlisted model). Cause: {type(exc).__name__}: {exc}"
        ) from exc
    return {
        "bertscore_precision": float(precision.mean()),
        "bertscore_recall": float(recall.mean()),
        "bertscore_f1": float(f1.mean()),
    }
