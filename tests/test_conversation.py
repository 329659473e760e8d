"""clinical/conversation.py: the one reader of what the patient has said, for the policy and the actions."""

from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

from clinical.conversation import as_dicts, everything_known, latest_turn, said, since_start
from clinical.triage import Status


def user(text, intent="greet", present=(), model=None):
    parse = {"intent": {"name": intent}, "findings": {"present": list(present), "absent": [], "unsure": []}}
    if model:
        parse["red_flag_model"] = model
    return {"event": "user", "text": text, "parse_data": parse}


def action(name):
    return {"event": "action", "name": name}


def slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def test_a_restart_or_a_new_session_starts_afresh():
    events = [user("fell", present=["injury"]), {"event": "restart"}, user("hi")]
    assert [e["text"] for e in since_start(events) if e["event"] == "user"] == ["hi"]
    assert everything_known([user("fell", present=["injury"]), {"event": "session_started"}], {}).statuses == {}


def test_findings_and_self_check_answers_in_order():
    events = [user("fell", present=["injury"]), action("utter_x"), user("/deny", "deny"), slot("sc_deformity", "no")]
    known = everything_known(events, {"sc_deformity": "no"})
    assert known.status("injury") is Status.PRESENT and known.status("deformity") is Status.ABSENT
    assert len(said(events, {"sc_deformity": "no"})) == 2


def test_the_latest_turn_knows_the_questions_it_answers_and_the_classifiers_opinion():
    events = [
        user("fell", present=["injury"]),
        slot("red_flag_questions_asked", ["weight_bearing"]),
        action("utter_red_flag_questions"),
        action("action_listen"),
        user("/affirm", "affirm", model={"emergency": 0.2, "urgent": 0, "crisis": 0, "kind": "dvt"}),
    ]
    turn = latest_turn(events)
    assert turn.intent == "affirm" and turn.answered_questions == ("weight_bearing",)
    assert turn.asked_before == ("weight_bearing",) and turn.opinion.kind == "dvt"


def test_a_message_after_another_reply_answers_no_questions():
    events = [
        slot("red_flag_questions_asked", ["calf"]),
        action("utter_red_flag_questions"),
        action("action_listen"),
        user("what does it cost", "ask_msc_cost"),
        action("action_answer_from_articles"),
        action("action_listen"),
        user("yes", "affirm"),
    ]
    turn = latest_turn(events)
    assert turn.answered_questions == () and turn.asked_before == ("calf",)
    assert latest_turn([action("action_listen")]) is None


def test_rasa_events_and_sdk_dicts_read_the_same():
    rasa_events = [
        UserUttered("fell", {"name": "greet"}, parse_data={"findings": {"present": ["injury"]}}),
        ActionExecuted("utter_greet"),
        SlotSet("sc_injury", "yes"),
    ]
    dicts = as_dicts(rasa_events)
    assert dicts[0]["event"] == "user" and dicts[2] == {**dicts[2], "name": "sc_injury", "value": "yes"}
    assert as_dicts(dicts) == dicts
    assert everything_known(dicts, {}).status("injury") is Status.PRESENT
