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
from bioinstruct.similarity.rouge import SimilarityIndex


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
        "markup_only_output",
        "instruction_length",
        "output_equals_input",
        "output_equals_instruction",
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


# What SmolLM2-135M-Instruct wrote behind `transformers serve` (issue 11 and this suite's captures).
REAL_MARKUP_OUTPUTS = ("##", "# ###")
#: a reply to a prompt with seed_046 among its examples: a new instruction, the seed's output copied
REAL_COPIED_OUTPUT = (
    "- Headache (pounding, behind the eyes): onset Monday morning; onset Tuesday morning; severity 8/10\n"
    '- Nausea: onset yesterday; about 1 day; mild ("not terrible")\n'
    '- Neck stiffness: onset 2 days ago; mild ("a bit stiff")'
)


def test_markup_only_outputs_are_rejected_but_markdown_answers_are_not():
    from bioinstruct.generation.filters import markup_only_output

    for output in REAL_MARKUP_OUTPUTS:
        assert markup_only_output(cand(output=output)) == f"output is only markup ({output!r})"
    assert markup_only_output(cand(output="## Answer\nMetformin.")) is None
    rules, _ = reply_rules(SimilarityIndex("rouge"), 0.7)
    assert first_rejection(cand(output="# ###"), rules).filter == "markup_only_output"


def test_an_output_that_repeats_the_instruction_is_rejected():
    from bioinstruct.generation.filters import output_equals_instruction

    text = "Explain the role of insulin in glucose uptake."
    assert output_equals_instruction(cand(text, output=text.upper().rstrip("."))) == (
        "output is identical to the instruction"
    )
    assert output_equals_instruction(cand(text, output="It moves GLUT4 to the membrane.")) is None


def test_an_output_copied_from_a_seed_is_rejected_even_under_a_new_instruction():
    from bioinstruct.generation.filters import CopiedSeedOutput
    from bioinstruct.generation.seeds import load_seed_tasks

    rule = CopiedSeedOutput(load_seed_tasks(None))
    copied = cand(
        "Extract the gene names and the sequence variants reported for each gene.", output=REAL_COPIED_OUTPUT
    )
    reason = rule(copied)
    assert reason is not None and reason.startswith("output copies the output of seed_046 (similarity 9")
    assert rule(cand(output="- Fever: onset today; 1 day; high")) is None
    assert CopiedSeedOutput([])(copied) is None
