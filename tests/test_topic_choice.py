"""The topic decision (clinical/topic_choice.py): classifier and retrieval together, pure Python."""

import pytest

from clinical.articles import load_library
from clinical.topic_choice import (
    AGREE_MIN_CONFIDENCE,
    AGREE_MIN_SIMILARITY,
    MAX_CANDIDATES,
    SECOND_QUESTION_MIN_SIMILARITY,
    TopicRetrieval,
    answerable_question_parts,
    choose,
    describes_symptoms,
    question_parts,
    second_topic,
)

TOPICS = set(load_library().topics)


@pytest.fixture(scope="module")
def retrieval():
    return TopicRetrieval(
        load_library(), [("ask_msc_cost", "hw much r the jabs"), ("out_of_scope", "best pizza in town")]
    )


def test_a_sure_classifier_is_answered_and_other_intents_are_kept():
    assert choose("ask_msc_cost", [("ask_msc_cost", 0.9)], [], TOPICS).action == "answer"
    assert choose("out_of_scope", [("ask_msc_cost", 0.9)], [("ask_msc_cost", 0.9)], TOPICS).action == "keep"
    assert choose("greet", [("greet", 0.9)], [("ask_msc_cost", 0.9)], TOPICS).action == "keep"


def test_an_unsure_classifier_is_answered_when_retrieval_agrees():
    decision = choose(
        "nlu_fallback",
        [("ask_msc_safety", AGREE_MIN_CONFIDENCE), ("ask_msc_cost", 0.1)],
        [("ask_msc_safety", AGREE_MIN_SIMILARITY), ("ask_msc_cost", 0.1)],
        TOPICS,
    )
    assert (decision.action, decision.topics) == ("answer", ("ask_msc_safety",))


@pytest.mark.parametrize(
    "classifier,retrieval",
    [
        ([("ask_msc_safety", AGREE_MIN_CONFIDENCE - 0.01)], [("ask_msc_safety", 0.9)]),  # classifier too unsure
        ([("ask_msc_safety", 0.5)], [("ask_msc_safety", AGREE_MIN_SIMILARITY - 0.01)]),  # retrieval too weak
        ([("ask_msc_safety", 0.5)], [("out_of_scope", 0.6), ("ask_msc_safety", 0.5)]),  # closest is out of scope
    ],
)
def test_no_answer_without_agreement(classifier, retrieval):
    assert choose("nlu_fallback", classifier, retrieval, TOPICS).action != "answer"


def test_a_message_naming_nothing_of_the_articles_is_never_answered_by_agreement():
    decision = choose("nlu_fallback", [("ask_msc_cure", 0.5)], [("ask_msc_cure", 0.5)], TOPICS, anchored=False)
    assert (decision.action, decision.topics) == ("offer", ("ask_msc_cure",))


def test_disagreement_offers_each_signals_best_guesses_at_most_three():
    decision = choose(
        "nlu_fallback",
        [("ask_msc_effectiveness", 0.4), ("ask_msc_cure", 0.3), ("greet", 0.2), ("ask_msc_cost", 0.15)],
        [("ask_msc_research", 0.5), ("ask_msc_effectiveness", 0.4), ("ask_cartilage", 0.3)],
        TOPICS,
    )
    assert decision.action == "offer"
    assert decision.topics == ("ask_msc_effectiveness", "ask_msc_research", "ask_msc_cure")
    assert len(decision.topics) == MAX_CANDIDATES
    assert decision.likely == "ask_msc_effectiveness"  # in both signals' best two


def test_no_likely_topic_without_both_signals_or_an_anchor():
    classifier, retrieval = (
        [("ask_msc_cure", 0.4), ("ask_msc_cost", 0.3)],
        [("ask_cartilage", 0.5), ("ask_msc_research", 0.4)],
    )
    assert choose("nlu_fallback", classifier, retrieval, TOPICS).likely is None
    classifier, retrieval = [("ask_msc_cure", 0.4)], [("ask_cartilage", 0.5), ("ask_msc_cure", 0.4)]
    assert choose("nlu_fallback", classifier, retrieval, TOPICS).likely == "ask_msc_cure"
    assert choose("nlu_fallback", classifier, retrieval, TOPICS, anchored=False).likely is None


def test_nothing_likely_is_kept_for_the_rephrase_path():
    assert (
        choose("nlu_fallback", [("greet", 0.5), ("ask_msc_cost", 0.01)], [("out_of_scope", 0.9)], TOPICS).action
        == "keep"
    )


@pytest.mark.parametrize(
    "text,parts",
    [
        ("is it safe and what does it cost?", ["is it safe", "what does it cost"]),
        ("how much is it & is it safe", ["how much is it", "is it safe"]),
        (
            "will my body reject the cells? n how much does it cost",
            ["will my body reject the cells", "how much does it cost"],
        ),
        # a statement is not a question: "my knee aches" gets no answer of its own
        ("my knee aches. how much is it?", ["how much is it"]),
        (
            "Kindly tell me the common symptoms of knee osteoarthritis, and also who all are more prone to get it.",
            ["Kindly tell me the common symptoms of knee osteoarthritis", "who all are more prone to get it"],
        ),
        ("bread and butter pudding", []),
        ("", []),
    ],
)
def test_question_parts(text, parts):
    assert [text[start:end] for start, end in question_parts(text)] == parts


def test_only_parts_in_scope_and_about_the_articles_are_answerable():
    text = "how much does stem cell therapy cost? is it safe to eat raw chicken"
    entities = [{"entity": "treatment", "start": 14, "end": 24}]
    assert answerable_question_parts(text, entities) == ["how much does stem cell therapy cost"]
    text = "what is knee osteoarthritis? and can I take ibuprofen for my knee?"
    entities = [
        {"entity": "condition", "start": 8, "end": 27},
        {"entity": "medicine", "start": 44, "end": 53},
        {"entity": "knee_part", "start": 61, "end": 65},
    ]
    assert answerable_question_parts(text, entities) == ["what is knee osteoarthritis"]
    text = "is stem cell therapy safe? what does stem cell therapy cost?"
    entities = [{"entity": "treatment", "start": 3, "end": 20}, {"entity": "treatment", "start": 37, "end": 54}]
    assert answerable_question_parts(text, entities) == [
        "is stem cell therapy safe",
        "what does stem cell therapy cost",
    ]


def test_a_second_topic_needs_its_own_part_and_a_sure_retrieval():
    strong, weak = SECOND_QUESTION_MIN_SIMILARITY, SECOND_QUESTION_MIN_SIMILARITY - 0.01
    assert (
        second_topic("ask_msc_safety", [[("ask_msc_safety", 0.6)], [("ask_msc_cost", strong)]], TOPICS)
        == "ask_msc_cost"
    )
    assert second_topic("ask_msc_safety", [[("ask_msc_safety", 0.6)], [("ask_msc_cost", weak)]], TOPICS) is None
    assert second_topic("ask_msc_safety", [[("ask_msc_cost", 0.9)]], TOPICS) is None  # one part only
    assert second_topic("ask_msc_safety", [[("ask_msc_safety", 0.6)], [("out_of_scope", 0.9)]], TOPICS) is None


def test_retrieval_ranks_intents_by_their_closest_text(retrieval):
    ranking = retrieval.rank("how much does stem cell therapy cost")
    assert ranking[0][0] == "ask_msc_cost" and 0 < ranking[0][1] <= 1
    assert retrieval.rank("hw much r the jabs")[0] == ("ask_msc_cost", pytest.approx(1.0))
    assert retrieval.rank("best pizza in town")[0][0] == "out_of_scope"
    assert retrieval.rank("   ") == []


@pytest.mark.parametrize(
    "findings,expected",
    [
        ({"present": ["stiffness", "side_left"]}, True),
        ({"present": ["side_left", "onset_gradual", "age_55_plus"]}, False),
        ({"present": [], "absent": ["fever"]}, False),
        ({"present": ["painless"]}, False),
        (None, False),
    ],
)
def test_describes_symptoms(findings, expected):
    assert describes_symptoms(findings) is expected
