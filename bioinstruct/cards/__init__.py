"""Dataset and model cards: Jinja bodies under ``data_cards/``, YAML front matter from huggingface_hub.

``dataset`` computes what a dataset card shows from a generation run and builds it with
``DatasetCard.from_template``; ``evaluation`` turns a ``results.json`` into a results table and
``model-index``. The template machinery both they and the adapter's model card (written by training,
a lower layer) use is :mod:`bioinstruct.card_templates`.
"""
