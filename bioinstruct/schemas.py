"""The instruction row every stage shares: its fields and the paper's four categories.

Why in the core layer: generation writes these rows, training reads them, cards count them; one
definition keeps a category added here from being missing in another stage.
"""

from __future__ import annotations

#: The paper's task categories (Tran et al. 2024, Figure 2): question answering, information
#: extraction, text generation, everything else. Also the order in which cards list them.
CATEGORIES: tuple[str, ...] = ("QA", "IE", "GEN", "OTHER")
#: The fields of an instruction row (Alpaca's, which the paper's data follows).
ROW_FIELDS: tuple[str, ...] = ("instruction", "input", "output")
