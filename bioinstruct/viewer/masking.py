"""Patient identifiers of rejected candidates are masked before they reach the page.

Why: a candidate the identifier screen rejected (``patient_identifiers``) is kept in the journal
with its text, identifiers included, so the run can be audited on the machine that made it. The
viewer is one file meant to be passed around; it shows such a candidate with each identifier
replaced by ``[KIND]`` (its kind and place stay visible), so the page never carries the names,
dates or numbers the screen kept out of the dataset. Rows the screen only flagged are in the
dataset as they are, and are shown as they are.
"""

from __future__ import annotations

from typing import Any

FIELDS = ("instruction", "input", "output")


def mask_identifiers(item: dict[str, Any]) -> None:
    """Replace each identifier of ``item`` by ``[KIND]`` in its field, in place. The listed
    identifiers then point at the masks (their ``text`` is the mask). An identifier whose span no
    longer matches its field has each occurrence of its text masked instead."""
    found = [x for x in item.get("identifiers") or [] if isinstance(x, dict)]
    listed: list[dict[str, Any]] = []
    for field in FIELDS:
        text, spans = item[field], []
        for x in found:
            start, end = x.get("start"), x.get("end")
            if (
                x.get("field") == field
                and isinstance(start, int)
                and isinstance(end, int)
                and 0 <= start < end <= len(text)
            ):
                spans.append((start, end, str(x.get("kind") or "IDENTIFIER"), x))
        out, at, shift, used = [], 0, 0, set()
        for start, end, kind, x in sorted(spans, key=lambda span: span[:2]):
            used.add(id(x))
            if start < at:  # overlaps the span before it, which is masked already
                continue
            mask = f"[{kind}]"
            out += [text[at:start], mask]
            listed.append(
                {
                    "kind": kind,
                    "field": field,
                    "start": start + shift,
                    "end": start + shift + len(mask),
                    "text": mask,
                }
            )
            shift += len(mask) - (end - start)
            at = end
        item[field] = "".join([*out, text[at:]])
        found = [x for x in found if id(x) not in used]
    for x in found:  # no usable span: mask the text wherever it occurs
        kind, secret = str(x.get("kind") or "IDENTIFIER"), str(x.get("text") or "")
        for field in FIELDS:
            if secret:
                item[field] = item[field].replace(secret, f"[{kind}]")
        listed.append({"kind": kind, "field": x.get("field"), "text": f"[{kind}]"})
    item["identifiers"] = listed


__all__ = ["mask_identifiers"]
