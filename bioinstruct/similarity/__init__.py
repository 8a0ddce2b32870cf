"""ROUGE-L near-duplicate search (the self-instruct filter) and its tokenizers.

Below the stages because two of them use it: generation's ROUGE-L < 0.7 filter and
decontamination's paraphrase check against benchmark questions.
"""
