"""Each candidate filter, by name, with its boundary cases."""

from __future__ import annotations

from bioinstruct.generation.filters import (
    Blacklist,
    DuplicateInReply,
    Similarity,
    empty_output,
    first_rejection,
    instruction_length,
    load_blacklist,
    output_equals_input,
    reply_rules,
)
from bioinstruct.generation.parsing import Candidate
from bioinstruct.generation.similarity import SimilarityIndex


def cand(instruction="Explain the role of insulin in glucose uptake.", input="", output="It helps.", index=4):
    return Candidate(index, instruction, input, output)


def test_instruction_length_bounds():
    assert instruction_length(cand("Define sepsis")) == "instruction has 2 words (< 3)"
    assert instruction_length(cand("Define sepsis briefly")) is None
    assert instruction_length(cand(" ".join(["word"] * 150))) is None
    assert instruction_length(cand(" ".join(["word"] * 151))) == "instruction has 151 words (> 150)"


def test_blacklist_matches_whole_words_and_phrases():
    blacklist = Blacklist()
    assert {"image", "graph", "file", "map", "draw", "plot", "video", "audio", "go to"} <= set(
        load_blacklist()
    )
    assert (
        blacklist(cand("Draw the structure of the heart.")) == "instruction contains blacklisted word 'draw'"
    )
    assert (
        blacklist(cand("Please go  to the nearest clinic now."))
        == "instruction contains blacklisted word 'go to'"
    )
    assert blacklist(cand("Describe this chest X-ray image.")) is not None
    for fine in (
        "Describe gene mapping in families.",
        "Explain how drawbacks of imaging are handled.",
        "Profile it.",
    ):
        assert blacklist(cand(fine)) is None, fine
    assert (
        Blacklist(["scan"])(cand("Read the scan report.")) == "instruction contains blacklisted word 'scan'"
    )


def test_empty_output_and_output_equals_input():
    assert empty_output(cand(output="  \n")) == "output is empty"
    assert empty_output(cand(output="x")) is None
    same = cand(input="Aspirin 81 mg daily.", output="  aspirin 81 MG\ndaily. ")
    assert output_equals_input(same) == "output is identical to input"
    assert output_equals_input(cand(input="", output="")) is None
    assert output_equals_input(cand(input="Aspirin.", output="Aspirin 81 mg.")) is None


def test_duplicate_within_one_reply_only():
    rule = DuplicateInReply()
    assert rule(cand(index=4)) is None
    assert rule(cand(instruction="explain the role of  insulin in glucose uptake.", index=9)) == (
        "same instruction as item 4 of this reply"
    )
    assert DuplicateInReply()(cand()) is None  # a new reply starts fresh


def test_similarity_rejects_at_or_above_the_threshold():
    index = SimilarityIndex("rouge")
    index.add("explain the role of insulin in glucose uptake", id="seed_1")
    rule = Similarity(index, threshold=0.7)
    assert rule(cand()) == "ROUGE-L 1.000 >= 0.7 with seed_1"
    assert rule.last == (1.0, "seed_1")
    assert rule(cand("List three causes of acute kidney injury.")) is None
    assert rule.last[1] == "seed_1" and rule.last[0] < 0.7
    # 7 of 10 tokens in common: F = 0.7 exactly is rejected (the ">= threshold")
    index.add("a b c d e f g h i j", id="row")
    exact = Similarity(index, threshold=0.7)
    assert exact(cand("a b c d e f g x y z")).startswith("ROUGE-L 0.700 >= 0.7 with row")


def test_rule_chain_order_and_names():
    index = SimilarityIndex("rouge")
    rules, similarity = reply_rules(index, 0.7)
    names = [getattr(rule, "name", getattr(rule, "__name__", "")) for rule in rules]
    assert names == [
        "empty_output",
        "instruction_length",
        "output_equals_input",
        "blacklist",
        "duplicate_in_reply",
        "similarity",
    ]
    assert first_rejection(cand(output=""), rules).filter == "empty_output"
    assert first_rejection(cand("Plot the data"), rules).filter == "blacklist"
    assert first_rejection(cand(), rules) is None
    assert first_rejection(cand(index=5), rules).filter == "duplicate_in_reply"
    index.add(cand().instruction, id="kept-1")
    rules, similarity = reply_rules(index, 0.7)
    rejection = first_rejection(cand(), rules)
    assert (rejection.filter, similarity.last) == ("similarity", (1.0, "kept-1"))
