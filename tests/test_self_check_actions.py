"""The self-check's actions (actions/forms.py, actions/triage_replies.py): events returned and
messages sent, with the fixture trio of tests/conftest.py."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.forms import ActionStartSelfCheck, ValidateSelfCheckForm
from actions.triage_replies import ActionAfterRedFlagQuestions, ActionSelfCheckSummary, ActionTriageNextSteps
from clinical.self_check import question_slots
from tests.conftest import make_tracker, user_event

NO_ANSWERS = {slot: None for slot in question_slots()}


def slot_values(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_start_clears_old_answers_and_fills_what_was_already_said(domain, dispatcher):
    earlier = user_event(
        "I fell and it's swollen, no fever",
        "ask_knee_pain_symptoms",
        findings={"present": ["injury", "swelling"], "absent": ["fever"], "unsure": []},
    )
    tracker = make_tracker(domain, "check my symptoms", "start_self_check", history=[earlier], slots={"sc_hot": "yes"})
    events = ActionStartSelfCheck().run(dispatcher, tracker, domain)
    values = slot_values(events)
    assert values["sc_injury"] == "yes" and values["sc_swelling"] == "yes"
    assert values["sc_hot"] is None and values["requested_slot"] is None
    assert dispatcher.messages[0]["response"] == "utter_self_check_intro"


def test_the_next_question_depends_on_the_answers(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "/affirm",
        "affirm",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "yes", "sc_injury": "yes", "requested_slot": "sc_injury"},
    )
    assert ValidateSelfCheckForm().run(dispatcher, tracker, domain) == [SlotSet("requested_slot", "sc_deformity")]


def test_an_answer_in_words_fills_the_question_and_any_other_it_answers(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "it's swollen and I can't put weight on it",
        "ask_knee_pain_symptoms",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "yes", "requested_slot": "sc_injury"},
        findings={"present": ["swelling", "cannot_bear_weight"], "absent": [], "unsure": []},
    )
    values = slot_values(ValidateSelfCheckForm().run(dispatcher, tracker, domain))
    assert values["sc_swelling"] == "yes" and values["sc_weight_bearing"] == "no"
    assert values["requested_slot"] == "sc_injury"  # still unanswered, asked again


def test_a_message_that_answers_nothing_fills_no_slot_so_rasa_lets_the_rules_answer_it(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "how much is it?",
        "ask_msc_cost",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "yes", "requested_slot": "sc_injury"},
    )
    assert ValidateSelfCheckForm().run(dispatcher, tracker, domain) == [SlotSet("requested_slot", "sc_injury")]


def test_an_under_16_ends_the_form(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "/deny",
        "deny",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "no", "requested_slot": "sc_adult"},
    )
    assert ValidateSelfCheckForm().run(dispatcher, tracker, domain) == [SlotSet("requested_slot", None)]


@pytest.mark.parametrize(
    "answers,level,label",
    [
        ({"sc_adult": "yes", "sc_injury": "no"}, "self_care_info", "Information and self-care"),
        ({"sc_adult": "yes", "sc_locked": "yes"}, "urgent", "Same-day care"),
        ({"sc_adult": "yes", "sc_extreme_pain": "unsure"}, "see_clinician", "See a clinician soon"),
        ({"sc_adult": "yes", "sc_injury": "yes", "sc_weight_bearing": "no"}, "emergency", "Emergency"),
    ],
)
def test_summary_gives_level_reasons_what_to_do_booking_and_stores_the_result(
    domain, dispatcher, answers, level, label
):
    tracker = make_tracker(domain, "/deny", "deny", slots={**NO_ANSWERS, **answers})
    events = ActionSelfCheckSummary().run(dispatcher, tracker, domain)
    summary, closing = dispatcher.messages[0]["text"], dispatcher.messages[-1]
    assert f"Result: {label}." in summary and "What to do now" in summary
    assert ("911" in summary) == (level == "emergency")
    assert "not a diagnosis" in closing["text"]
    assert "/book_consultation" in [b["payload"] for b in closing["buttons"]]
    record = slot_values(events)["triage_result"]
    assert record["level"] == level and record["source"] == "self_check"
    assert record["answers"] == answers and record["decided_at"]


def test_summary_for_an_under_16_points_to_a_parent_and_their_doctor(domain, dispatcher):
    tracker = make_tracker(domain, "/deny", "deny", slots={**NO_ANSWERS, "sc_adult": "no"})
    events = ActionSelfCheckSummary().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_self_check_under_16"
    assert slot_values(events)["triage_result"]["ended_early"] == "sc_adult"


def test_after_an_urgent_escalation_the_question_is_answered_too(domain, dispatcher):
    result = {
        "level": "urgent",
        "reasons": [
            {"rule": "locked_knee", "level": "urgent", "reason": "your knee has locked", "concern": "a torn meniscus"}
        ],
    }
    tracker = make_tracker(domain, "it locked, and what does it cost?", "ask_msc_cost", slots={"triage_result": result})
    ActionTriageNextSteps().run(dispatcher, tracker, domain)
    sent = [m.get("text") or "" for m in dispatcher.messages]
    assert "You told me your knee has locked" in sent[0] and "a torn meniscus" in sent[0]
    assert any("About your question" in text for text in sent)
    assert "/book_consultation" in [b["payload"] for b in dispatcher.messages[-1]["buttons"]]


def test_after_an_emergency_escalation_no_article_answer_distracts(domain, dispatcher):
    result = {
        "level": "emergency",
        "reasons": [
            {
                "rule": "bone_showing",
                "level": "emergency",
                "reason": "bone may be showing",
                "concern": "an open fracture",
            }
        ],
    }
    tracker = make_tracker(domain, "bone showing, what does it cost?", "ask_msc_cost", slots={"triage_result": result})
    ActionTriageNextSteps().run(dispatcher, tracker, domain)
    assert not any("About your question" in (m.get("text") or "") for m in dispatcher.messages)


def test_after_an_urgent_escalation_a_mixed_message_gets_its_best_ranked_topic_named(domain, dispatcher):
    result = {"level": "urgent", "reasons": []}
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "ask_msc_cost", "confidence": 0.41}]
    tracker = make_tracker(
        domain, "it locked... how much is it?", "nlu_fallback", ranking=ranking, slots={"triage_result": result}
    )
    ActionTriageNextSteps().run(dispatcher, tracker, domain)
    assert any("About your question (Cost of stem cell therapy)" in (m.get("text") or "") for m in dispatcher.messages)


def test_after_an_urgent_escalation_the_question_in_a_mixed_message_is_looked_up_on_its_own(domain, dispatcher):
    # The classifier, reading the whole message, leans to symptoms; the question is about cost.
    ranking = [{"name": "nlu_fallback", "confidence": 0.6}, {"name": "ask_knee_pain_symptoms", "confidence": 0.35}]
    tracker = make_tracker(
        domain,
        "it locked this morning and won't straighten. how much does stem cell therapy cost?",
        "nlu_fallback",
        ranking=ranking,
        slots={"triage_result": {"level": "urgent", "reasons": []}},
    )
    ActionTriageNextSteps().run(dispatcher, tracker, domain)
    assert any("About your question (Cost of stem cell therapy)" in (m.get("text") or "") for m in dispatcher.messages)


def test_after_an_urgent_escalation_a_weak_guess_is_not_answered(domain, dispatcher):
    ranking = [{"name": "nlu_fallback", "confidence": 0.8}, {"name": "ask_msc_cost", "confidence": 0.1}]
    tracker = make_tracker(
        domain,
        "it locked",
        "nlu_fallback",
        ranking=ranking,
        slots={"triage_result": {"level": "urgent", "reasons": []}},
    )
    ActionTriageNextSteps().run(dispatcher, tracker, domain)
    assert not any("About your question" in (m.get("text") or "") for m in dispatcher.messages)


def test_a_same_day_red_flag_answer_is_said_before_the_next_question(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "/affirm",
        "affirm",
        active_loop="self_check_form",
        history=[
            user_event("check my symptoms", "start_self_check"),
            {"event": "slot", "name": "sc_adult", "value": "yes"},
        ],
        slots={
            **NO_ANSWERS,
            "sc_adult": "yes",
            "sc_injury": "no",
            "sc_weight_bearing": "yes",
            "sc_foot": "no",
            "sc_hot": "no",
            "sc_swelling": "no",
            "sc_calf": "no",
            "sc_pop": "no",
            "sc_straighten": "yes",
            "sc_locked": "yes",
            "requested_slot": "sc_locked",
        },
    )
    tracker.events.append({"event": "slot", "name": "sc_locked", "value": "yes"})
    events = ValidateSelfCheckForm().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_urgent_care"
    assert "locked" in dispatcher.messages[0]["red_flag_reasons"]
    values = slot_values(events)
    assert values["triage_result"]["level"] == "urgent" and values["requested_slot"] == "sc_extreme_pain"


def test_a_question_asked_with_an_answer_in_words_is_answered_too(domain, dispatcher):
    tracker = make_tracker(
        domain,
        "it's swollen. how much is treatment?",
        "ask_msc_cost",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "yes", "requested_slot": "sc_injury"},
        findings={"present": ["swelling"], "absent": [], "unsure": []},
    )
    events = ValidateSelfCheckForm().run(dispatcher, tracker, domain)
    assert slot_values(events)["sc_swelling"] == "yes"
    assert any("Cost" in (m.get("text") or "") or "cost" in (m.get("text") or "") for m in dispatcher.messages)


def test_an_answer_the_topic_resolver_only_guessed_a_topic_for_gets_no_article(domain, dispatcher):
    from clinical.topic_choice import AGREED

    tracker = make_tracker(
        domain,
        "it's swollen and stiff in the mornings",
        "ask_oa_symptoms",
        active_loop="self_check_form",
        slots={**NO_ANSWERS, "sc_adult": "yes", "requested_slot": "sc_injury"},
        findings={"present": ["swelling", "stiffness"], "absent": [], "unsure": []},
        topic_choice={"action": "answer", "topics": ["ask_oa_symptoms"], "reason": AGREED},
    )
    events = ValidateSelfCheckForm().run(dispatcher, tracker, domain)
    assert slot_values(events)["sc_swelling"] == "yes"
    assert not any("Source" in (m.get("text") or "") for m in dispatcher.messages)


def test_stopping_keeps_the_result_and_says_what_to_do_when_it_matters(domain, dispatcher):
    from actions.triage_replies import ActionSelfCheckStopped

    tracker = make_tracker(domain, "stop", "stop", slots={**NO_ANSWERS, "sc_adult": "yes", "sc_locked": "yes"})
    events = ActionSelfCheckStopped().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_self_check_stopped"
    assert "today" in dispatcher.messages[1]["text"]
    record = slot_values(events)["triage_result"]
    assert record["stopped_early"] and record["level"] == "urgent" and record["answers"]["sc_locked"] == "yes"


# --- after the closed red-flag questions (actions/triage_replies.py) ----------------------------
def asked_about(message_event):
    return [
        message_event,
        {"event": "slot", "name": "red_flag_questions_asked", "value": ["weight_bearing"]},
        {"event": "action", "name": "utter_red_flag_questions"},
        {"event": "action", "name": "action_listen"},
    ]


def test_no_to_the_red_flag_questions_answers_the_question_the_message_asked(domain, dispatcher):
    asked = user_event(
        "I slipped, how much does stem cell therapy cost?",
        "ask_msc_cost",
        findings={"present": ["injury"], "absent": [], "unsure": []},
    )
    tracker = make_tracker(domain, "/deny", "deny", history=asked_about(asked))
    events = ActionAfterRedFlagQuestions().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_no_red_flag_now"
    assert "About your question (" in dispatcher.messages[1]["text"] and "Source" in dispatcher.messages[1]["text"]
    assert slot_values(events) == {"red_flag_questions_asked": None}


def test_no_to_the_red_flag_questions_about_a_described_problem_offers_the_self_check(domain, dispatcher):
    described = user_event(
        "my knee hurts on the stairs",
        "ask_knee_pain_symptoms",
        confidence=0.2,
        ranking=[{"name": "nlu_fallback", "confidence": 0.7}],
        findings={"present": ["knee_pain"], "absent": [], "unsure": []},
    )
    described["parse_data"]["intent"] = {"name": "nlu_fallback", "confidence": 0.7}
    tracker = make_tracker(domain, "/deny", "deny", history=asked_about(described))
    ActionAfterRedFlagQuestions().run(dispatcher, tracker, domain)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_no_red_flag_now", "utter_offer_self_check"]


def test_no_after_a_same_day_reply_keeps_the_same_day_advice(domain, dispatcher):
    locked = user_event(
        "my knee locked this morning",
        "ask_knee_pain_symptoms",
        findings={"present": ["locked"], "absent": [], "unsure": []},
    )
    history = [
        locked,
        {"event": "action", "name": "utter_urgent_care"},
        {"event": "action", "name": "action_triage_next_steps"},
    ] + asked_about(locked)[1:]
    tracker = make_tracker(domain, "/deny", "deny", history=history)
    ActionAfterRedFlagQuestions().run(dispatcher, tracker, domain)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_not_an_emergency_but_today"]
