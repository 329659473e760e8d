"""clinical/red_flag_model.py and its Rasa adapter: the learned second opinion on red flags."""

from __future__ import annotations

from collections import Counter

from rasa.shared.nlu.training_data.message import Message

from clinical.red_flag_check import kind_concerns
from clinical.red_flag_model import CRISIS_KIND, Example, Opinion, RedFlagModel, label_of, load_corpus, training_set
from components.red_flag_classifier import RedFlagClassifier

CORPUS = load_corpus()


def test_the_corpus_is_large_varied_and_labelled_with_known_kinds():
    writers = Counter(example.writer for example in CORPUS)
    assert len(CORPUS) >= 3000 and len(writers) >= 8 and min(writers.values()) >= 200
    levels = Counter(example.level for example in CORPUS)
    assert levels["emergency"] >= 1500 and levels["urgent"] >= 300
    assert levels["see_clinician"] + levels["self_care_info"] >= 1200
    emergency_kinds = {e.kind for e in CORPUS if e.level == "emergency"}
    assert emergency_kinds == set(kind_concerns())  # every kind has a concern to name


def test_labels_keep_each_emergency_kind_apart():
    assert label_of(Example("x", "emergency", "dvt", "w")) == "emergency:dvt"
    assert label_of(Example("x", "urgent", "locked_knee", "w")) == "urgent"
    assert label_of(Example("x", "see_clinician", "negation", "w")) == "none"
    texts, labels = training_set([Example("a", "urgent", "k", "w")], ["what does it cost?"])
    assert texts == ["a", "what does it cost?"] and labels == ["urgent", "none"]


def small_model() -> RedFlagModel:
    texts = [
        "my calf is swollen and hot",
        "calf swollen red and painful",
        "leg swollen and warm below the knee",
        "i want to end my life",
        "i want to die tonight",
        "i have a plan to kill myself",
        "how much does it cost",
        "what are your opening hours",
        "is stem cell therapy safe",
        "my knee locked when i twisted it",
        "knee stuck after a squat",
    ]
    labels = ["emergency:dvt"] * 3 + [f"emergency:{CRISIS_KIND}"] * 3 + ["none"] * 3 + ["urgent"] * 2
    return RedFlagModel(regularisation=10.0).fit(texts, labels)


def test_an_opinion_gives_the_emergency_probability_the_kind_and_the_crisis():
    model = small_model()
    calf = model.opinion("my calf is red and swollen")
    assert calf.kind == "dvt" and calf.emergency > 0.5 and calf.crisis < calf.emergency
    crisis = model.opinion("i want to end it all tonight")
    assert crisis.kind == CRISIS_KIND and crisis.crisis > 0.3
    assert model.opinion("how much is the consultation").emergency < 0.5
    assert model.opinion("my knee got stuck when i twisted").urgent > 0.3


def test_an_opinion_round_trips_through_the_parse_result():
    opinion = Opinion(0.91234567, 0.01, "dvt", 0.0)
    assert Opinion.from_dict(opinion.as_dict()) == Opinion(0.9123, 0.01, "dvt", 0.0)
    assert Opinion.from_dict(None) is None


def test_the_rasa_component_adds_numbers_and_a_kind_never_text():
    component = RedFlagClassifier({}, None, None, small_model())
    [message] = component.process([Message({"text": "my calf is swollen and hot"})])
    record = message.get("red_flag_model")
    assert set(record) == {"emergency", "urgent", "crisis", "kind"} and record["kind"] == "dvt"
    assert "calf" not in str(record)


def test_the_overload_screen_reads_with_the_loaded_model_and_without_one_lets_everything_through():
    from clinical.red_flag_model import EmergencyScreen, Opinion

    class Stub:
        def opinion(self, text: str) -> Opinion:
            return Opinion(
                emergency=0.9 if "bone" in text else 0.01, urgent=0.0, kind="", crisis=0.4 if "end it" in text else 0.0
            )

    screen = EmergencyScreen(threshold=0.3)
    assert screen.may_be_an_emergency("how much is it?")  # no model loaded: nothing is refused unread
    screen.use(Stub(), str.lower)
    assert screen.may_be_an_emergency("I can see the BONE") and screen.may_be_an_emergency("i want to end it")
    assert not screen.may_be_an_emergency("how much is it?")
