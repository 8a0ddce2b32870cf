"""Dataset and model cards: Jinja bodies under ``data_cards/``, YAML front matter from huggingface_hub.

``render`` holds the shared machinery (template loading, the ``plural``/``pct`` filters, parsing the
result back with ``DatasetCard``/``ModelCard``); ``dataset`` computes what a dataset card shows from
a generation run; ``evaluation`` turns a ``results.json`` into a results table and ``model-index``.
"""
