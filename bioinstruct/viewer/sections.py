"""The static parts of the run viewer's page: the header summary, the rejections by rule, the settings.

Why static HTML written here, not by the page's script: these parts are painted as soon as the
browser has the top of the file, before the script has parsed the data of 100k rows, so the page
says at once what the run is (status, counts, cost). Every value goes through :func:`html.escape`.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from bioinstruct.viewer.gather import RunView


def _when(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _cost(header: dict[str, Any]) -> str:
    text = f"${header['cost_usd']:,.4f}"
    return text + (" (price unknown for this model)" if header.get("price_known") is False else "")


def summary_html(view: RunView) -> str:
    """The header: status and stop reason, then one ``<dl>`` of counts, tokens, cost and times."""
    h = view.header
    status = str(h.get("status") or "unknown")
    target = h.get("target")
    requests = h.get("requests") or {}
    facts: list[tuple[str, str, str]] = [
        ("kept", "kept rows", f"{h['kept']:,}" + (f" of {target:,}" if isinstance(target, int) else "")),
        ("pending", "pending label", f"{h['pending']:,}"),
        ("rejected", "rejected", f"{h['rejected']:,}"),
        ("surplus", "surplus", f"{h['surplus']:,}"),
        ("candidates", "candidates", f"{h['candidates']:,}"),
        ("requests", "requests", ", ".join(f"{kind} {count:,}" for kind, count in requests.items()) or "0"),
        ("failed", "failed requests", f"{h['failed_requests']:,}"),
        ("tokens", "tokens", f"{h['prompt_tokens']:,} prompt + {h['completion_tokens']:,} completion"),
        ("cost", "cost", _cost(h)),
        ("teacher", "teacher model", str(h.get("teacher_model") or "unknown")),
    ]
    first, last = _when(h.get("first_time")), _when(h.get("last_time"))
    if first and last:
        minutes = (h["last_time"] - h["first_time"]) / 60
        facts.append(("time", "journal", f"{first} to {last} ({minutes:,.1f} min)"))
    items = "".join(
        f'<div class="fact fact-{key}"><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>'
        for key, label, value in facts
    )
    stop = h.get("stop_reason")
    badge = f'<span class="badge run-{escape(status, quote=True)}" id="run-status">{escape(status)}</span>'
    stop_text = (
        f' <span class="stop">stop reason: <b id="stop-reason">{escape(str(stop))}</b></span>' if stop else ""
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in view.notes)
    return f'<p class="status-line">{badge}{stop_text}</p><dl class="facts">{items}</dl>' + (
        f'<ul class="notes">{notes}</ul>' if notes else ""
    )


def rules_html(view: RunView) -> str:
    """Rejections grouped by rule: count, share and the first reason of each, with a button that
    filters the list to that rule (wired up by the page's script)."""
    if not view.rules:
        return '<p class="muted">No candidate was rejected.</p>'
    total = sum(view.rules.values())
    first_reason: dict[str, str] = {}
    for item in view.items:
        if item["status"] == "rejected" and item["rule"] not in first_reason:
            first_reason[item["rule"]] = item["reason"]
    rows = "".join(
        f'<tr><td><button type="button" class="rule-link" data-rule="{escape(rule, quote=True)}">'
        f'{escape(rule)}</button></td><td class="num">{count:,}</td>'
        f'<td class="num">{100 * count / total:.1f}%</td><td>{escape(first_reason.get(rule, ""))}</td></tr>'
        for rule, count in sorted(view.rules.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return (
        '<table class="rules"><caption>Rejected candidates by rule</caption>'
        "<thead><tr><th>rule</th><th>rejected</th><th>share</th><th>first reason</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def settings_html(view: RunView) -> str:
    """run.json's config, teacher counters and decontamination, credentials left out."""
    if not view.settings:
        return '<p class="muted">No run.json settings recorded yet.</p>'
    return f"<pre>{escape(json.dumps(view.settings, indent=2, ensure_ascii=False))}</pre>"


__all__ = ["rules_html", "settings_html", "summary_html"]
