"""The held-out and dev sets stay held out, and are big enough to mean something."""
from collections import Counter

import pytest

from clinical.articles import load_library
from tests.nlu_sets import DEV_FILE, HELDOUT_FILE, TRAINING_FILES, comparable, read_examples

TRAINING = read_examples(TRAINING_FILES)
HELDOUT = read_examples([HELDOUT_FILE])
DEV = read_examples([DEV_FILE])


@pytest.mark.parametrize("name,evaluation", [("heldout", HELDOUT), ("dev", DEV)])
def test_evaluation_set_shares_no_message_with_training(name, evaluation):
    training = {comparable(text) for _, text in TRAINING}
    shared = sorted(text for _, text in evaluation if comparable(text) in training)
    assert not shared, f"{name} messages also in the training data: {shared}"


def test_heldout_and_dev_are_disjoint():
    dev = {comparable(text) for _, text in DEV}
    shared = sorted(text for _, text in HELDOUT if comparable(text) in dev)
    assert not shared, f"messages in both heldout and dev: {shared}"


@pytest.mark.parametrize(
    "name,evaluation,per_topic,per_conversation,out_of_scope",
    [("heldout", HELDOUT, 10, 7, 75), ("dev", DEV, 4, 3, 45)],
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
