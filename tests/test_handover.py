"""The hand-over summary (clinical/handover.py): what staff read before they call a patient back."""

from __future__ import annotations

from clinical.handover import summarise
from clinical.triage import Level
from tests.staff_conversations import (
    action,
    emergency_after_a_fall,
    handoff_only,
    result,
    self_check_see_clinician,
    slot,
    user,
)


def test_the_complaint_is_in_the_patients_own_words_and_the_request_is_named():
    summary = summarise(emergency_after_a_fall())
    assert summary.complaint == ("i fell off a ladder and my knee looks bent the wrong way",)
    assert summary.asked_for == ("to talk to a person",)
    assert summary.channel == "SMS / WhatsApp"
    assert summary.started_at == "2026-11-30 00:53 UTC"


def test_an_emergency_stays_visible_with_its_reason():
    summary = summarise(emergency_after_a_fall())
    assert summary.level is Level.EMERGENCY
    assert summary.reasons == ("a deformed knee after an injury",)
    assert [(e.level, e.at) for e in summary.escalations] == [("Emergency", "2026-11-30 10:00 UTC")]
    assert "emergency number" in summary.recommendation
    # A later self-check that ends lower does not hide the emergency told earlier.
    later = emergency_after_a_fall() + [
        slot("triage_result", result("self_check", "see_clinician", ["pain"]), 1_796_000_900.0)
    ]
    summary = summarise(later)
    assert summary.level is Level.SEE_CLINICIAN and summary.self_check == "completed"
    assert [e.level for e in summary.escalations] == ["Emergency"]


def test_only_positive_answers_and_pertinent_negatives_are_listed():
    summary = summarise(self_check_see_clinician())
    listed = {(a.question.split("?")[0], a.answer, a.pertinent_negative) for a in summary.answers}
    questions = {a.question for a in summary.answers}
    assert any("fever" in q.lower() for q in questions), questions  # no fever: rules out an emergency rule
    assert all(a.pertinent_negative for a in summary.answers if a.answer == "no"), listed
    assert any(a.answer == "yes" and "swollen" in a.question.lower() for a in summary.answers), listed
    # "No" to extreme pain takes part in no urgent or emergency rule: counted, not listed.
    assert not any("pain" in q.lower() and "extreme" in q.lower() for q in questions), questions
    assert summary.other_negatives == 1


def test_the_topics_asked_about_are_named_as_the_articles_name_them():
    summary = summarise(self_check_see_clinician())
    assert summary.topics == ("What is knee osteoarthritis?",)


def test_the_closed_red_flag_questions_and_their_answer_are_listed():
    events = [
        user("my knee hurts after a fall", "describe_symptoms", 1.0, {"present": ["fall"], "absent": [], "unsure": []}),
        slot("red_flag_questions_asked", ["weight_bearing", "deformity"], 2.0),
        action("utter_red_flag_questions", 2.0),
        user("no", "deny", 3.0),
    ]
    summary = summarise(events)
    assert [(a.answer, a.pertinent_negative) for a in summary.answers] == [("no", True), ("no", True)]
    assert summary.answers[0].question.startswith("Right now, you can't put weight on the leg")


def test_a_conversation_without_a_check_says_so():
    summary = summarise(handoff_only())
    assert summary.level is None and summary.level_name == "Not assessed"
    assert summary.self_check == "not done" and summary.complaint == ()
    assert "ask about symptoms" in summary.recommendation


def test_a_restart_starts_the_summary_afresh():
    events = emergency_after_a_fall() + [{"event": "restart", "timestamp": 1_796_001_000.0}] + handoff_only()
    summary = summarise(events)
    assert summary.level is None and summary.escalations == ()


def test_a_message_the_assistant_could_not_read_is_noted():
    events = [user("mi rodilla duele mucho", "nlu_fallback", 1.0), action("utter_language_not_read", 2.0)]
    assert "could not read" in summarise(events).language
