"""The held-out and dev sets stay held out, and are big enough to mean something."""

from collections import Counter

import pytest

from clinical.articles import load_library
from harness.nlu_sets import DEV_FILE, HELDOUT_FILE, TRAINING_FILES, comparable, near_duplicates, read_examples

TRAINING = read_examples(TRAINING_FILES)
HELDOUT = read_examples([HELDOUT_FILE])
DEV = read_examples([DEV_FILE])


@pytest.mark.parametrize("name,evaluation", [("heldout", HELDOUT), ("dev", DEV)])
def test_evaluation_set_shares_no_message_with_training(name, evaluation):
    training = {comparable(text) for _, text in TRAINING}
    shared = sorted(text for _, text in evaluation if comparable(text) in training)
    assert not shared, f"{name} messages also in the training data: {shared}"


@pytest.mark.parametrize("name,evaluation", [("heldout", HELDOUT), ("dev", DEV)])
def test_evaluation_set_has_no_near_duplicate_of_training(name, evaluation):
    found = near_duplicates(evaluation, TRAINING)
    assert not found, f"{name} messages that nearly repeat a training example of their intent: {found}"


def test_comparable_folds_case_punctuation_hyphens_and_spacing():
    assert comparable("Stem-cell  cost?") == comparable("stem cell cost") == "stem cell cost"
    assert comparable("X-ray!") == comparable("x ray")
    assert comparable("😬") == "😬"


def test_near_duplicates_are_found_within_an_intent_only():
    training = [
        ("ask_cartilage", "once cartilage is gone is it gone forever"),
        ("start_self_check", "do the self check"),
    ]
    assert near_duplicates([("ask_cartilage", "Once cartilage is gone, is it gone for good?")], training)
    assert not near_duplicates([("ask_cartilage", "does cartilage grow back")], training)
    assert not near_duplicates([("stop", "end the self check")], training)


def test_heldout_and_dev_are_disjoint():
    dev = {comparable(text) for _, text in DEV}
    shared = sorted(text for _, text in HELDOUT if comparable(text) in dev)
    assert not shared, f"messages in both heldout and dev: {shared}"


@pytest.mark.parametrize(
    "name,evaluation,per_topic,per_conversation,out_of_scope",
    # Lowered from 10, 7 and 75 when near-duplicates of training examples were removed (issue 11).
    [("heldout", HELDOUT, 9, 6, 70), ("dev", DEV, 4, 3, 45)],
)
def test_evaluation_set_covers_every_intent(name, evaluation, per_topic, per_conversation, out_of_scope):
    counts = Counter(intent for intent, _ in evaluation)
    training_intents = {intent for intent, _ in TRAINING}
    assert set(counts) == training_intents, f"{name} intents differ from training intents"
    topics = load_library().topics

    def minimum(intent):
        if intent == "out_of_scope":
            return out_of_scope
        return per_topic if intent in topics else per_conversation

    too_few = {intent: n for intent, n in counts.items() if n < minimum(intent)}
    assert not too_few, f"{name}: too few examples for {too_few}"
    if name == "heldout":
        assert len(evaluation) >= 300 + 60


def test_no_duplicates_within_a_set():
    for examples in (TRAINING, HELDOUT, DEV):
        counts = Counter(comparable(text) for _, text in examples)
        assert [text for text, n in counts.items() if n > 1] == []
