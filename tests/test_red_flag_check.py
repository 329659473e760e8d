"""clinical/red_flag_check.py: triage before topic, as pure decisions (no Rasa)."""

from __future__ import annotations

import pytest

from clinical.red_flag_check import (
    MAX_QUESTIONS,
    Thresholds,
    decide,
    kind_concerns,
    load_questions,
    questions_to_ask,
)
from clinical.red_flag_model import Opinion
from clinical.self_check import Said
from clinical.triage import Findings, Level, Status, load_rules, triage

THRESHOLDS = Thresholds(emergency=0.75, urgent=0.6, ask=0.3, crisis=0.5)


def turns(*findings: Findings):
    return tuple(Said(i, f) for i, f in enumerate(findings))


def opinion(emergency=0.0, kind="dvt", urgent=0.0, crisis=0.0):
    return Opinion(emergency=emergency, urgent=urgent, kind=kind, crisis=crisis)


def test_a_red_flag_rule_escalates_and_asks_nothing():
    decision = decide(turns(Findings.of(present=["injury", "cannot_bear_weight"])))
    assert decision.escalation.level is Level.EMERGENCY and decision.source == "rules"
    assert decision.questions == ()


def test_the_classifier_escalates_above_its_threshold_and_not_below():
    said = turns(Findings())
    above = decide(said, opinion(0.8), THRESHOLDS)
    assert above.escalation.level is Level.EMERGENCY and above.source == "model"
    assert "blood clot" in above.escalation.reasons[0].text
    assert decide(said, opinion(0.74), THRESHOLDS).escalation is None


def test_the_classifier_crisis_gets_the_crisis_line_even_beside_a_rule():
    said = turns(Findings.of(present=["chest_pain"]))
    decision = decide(said, opinion(0.9, "suicide_or_self_harm", crisis=0.9), THRESHOLDS)
    assert decision.escalation.crisis_line and decision.escalation.is_emergency


def test_an_urgent_opinion_is_same_day_advice():
    decision = decide(turns(Findings()), opinion(0.1, urgent=0.7), THRESHOLDS)
    assert decision.escalation.level is Level.URGENT and decision.source == "model"


def test_an_injury_alone_asks_the_questions_whose_yes_would_be_an_emergency():
    decision = decide(turns(Findings.of(present=["injury"])))
    asked = [q.id for q in decision.questions]
    assert decision.escalation is None
    assert asked[:2] == ["weight_bearing", "deformity"] and len(asked) <= MAX_QUESTIONS
    for question in decision.questions:
        with_yes = Findings.of(present=["injury"], unsure=question.findings)
        assert triage(with_yes).is_emergency, question.id


def test_a_known_answer_is_not_asked():
    decision = decide(turns(Findings.of(present=["injury"], absent=["cannot_bear_weight", "deformity"])))
    assert {"weight_bearing", "deformity"}.isdisjoint({q.id for q in decision.questions})


def test_knee_pain_asks_about_a_hot_knee_with_fever_and_the_calf():
    assert [q.id for q in decide(turns(Findings.of(present=["knee_pain"]))).questions] == [
        "hot_knee_with_fever",
        "calf",
    ]


def test_a_hot_knee_asks_only_for_the_missing_fever():
    asked = [q.id for q in decide(turns(Findings.of(present=["hot_or_red_joint"]))).questions]
    assert "fever" in asked and "hot_knee_with_fever" not in asked


def test_nothing_described_asks_nothing():
    assert decide(turns(Findings())).questions == ()
    assert decide(turns(Findings.of(absent=["fever"]))).questions == ()


@pytest.mark.parametrize("answer", ["affirm", "unsure"])
def test_yes_or_not_sure_to_the_questions_escalates_with_a_reason_that_lists_them(answer):
    asked = ("weight_bearing", "deformity")
    decision = decide(turns(Findings.of(present=["injury"]), Findings()), answered=asked, answer=answer)
    assert decision.escalation.level is Level.EMERGENCY and decision.source == "questions"
    assert "one of these applies" in decision.escalation.reasons[0].text
    assert decision.findings.status("cannot_bear_weight") is Status.UNSURE


def test_no_to_the_questions_records_them_as_absent_and_asks_nothing_again():
    asked = ("weight_bearing", "deformity", "swelled_fast", "straighten")
    decision = decide(
        turns(Findings.of(present=["injury"]), Findings()), answered=asked, answer="deny", asked_before=asked
    )
    assert decision.escalation is None and decision.questions == ()
    assert decision.findings.status("cannot_bear_weight") is Status.ABSENT


def test_a_question_asked_before_is_not_asked_again():
    said = turns(Findings.of(present=["knee_pain"]))
    assert [q.id for q in decide(said, asked_before=("calf",)).questions] == ["hot_knee_with_fever"]


def test_the_classifier_leaning_to_a_kind_asks_that_kinds_question():
    questions = questions_to_ask(Findings(), Findings(), opinion(0.5, "septic_joint"), THRESHOLDS)
    assert [q.id for q in questions] == ["hot_knee_with_fever"]
    assert questions_to_ask(Findings(), Findings(), opinion(0.1, "septic_joint"), THRESHOLDS) == ()


def test_every_question_names_real_findings_and_the_kinds_the_classifier_knows():
    codes = {code for rule in load_rules() for code in rule.findings}
    kinds = set(kind_concerns())
    for question in load_questions():
        assert set(question.findings) <= codes, question.id
        assert set(question.kinds) <= kinds, question.id
        assert question.text and not question.text.endswith(".")


def test_a_crisis_is_escalated_at_its_own_lower_threshold():
    said = turns(Findings())
    decision = decide(said, opinion(0.6, "suicide_or_self_harm", crisis=0.55), THRESHOLDS)
    assert decision.escalation.crisis_line and decision.source == "model"
    assert "crisis" in decision.escalation.reasons[0].text
    assert decide(said, opinion(0.6, "suicide_or_self_harm", crisis=0.45), THRESHOLDS).escalation is None


def test_after_a_same_day_reply_only_questions_that_complete_a_half_met_emergency_are_asked():
    locked = Findings.of(present=["locked"])
    decision = decide(turns(locked))
    assert decision.escalation.level is Level.URGENT
    assert [q.id for q in decision.questions] == ["pop_or_fall"]
