"""RedFlagPolicy on real Rasa trackers and the real domain: what it predicts, and what it leaves to
the other policies. (The decision itself is tested in test_triage.py.)"""
from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Restarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.red_flag_policy import RedFlagPolicy
from tests.conftest import ROOT

DOMAIN = Domain.load(str(ROOT / "domain"))


@pytest.fixture(scope="module")
def policy():
    return RedFlagPolicy({"priority": 7}, None, None, ExecutionContext(GraphSchema({}), "test"))


def said(text="...", intent="greet", present=(), absent=(), unsure=()):
    findings = {"present": list(present), "absent": list(absent), "unsure": list(unsure)}
    return [UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"findings": findings})]


def bot(*actions):
    return [ActionExecuted(action) for action in actions] + [ActionExecuted(ACTION_LISTEN_NAME)]


def tracker(*steps):
    events = [ActionExecuted(ACTION_LISTEN_NAME)] + [event for step in steps for event in step]
    return DialogueStateTracker.from_events("patient", events, slots=DOMAIN.slots)


def predicted(policy, tracker_):
    prediction = policy.predict_action_probabilities(tracker_, DOMAIN)
    if max(prediction.probabilities) == 0:
        return None, prediction
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index], prediction


def slots_set(prediction):
    return {event.key: event.value for event in prediction.optional_events if isinstance(event, SlotSet)}


def test_an_emergency_in_any_message_is_answered_first_with_the_reasons_and_the_record(policy):
    action, prediction = predicted(policy, tracker(said("cost? also I fell and can't walk", "ask_msc_cost",
                                                        present=["injury", "cannot_bear_weight"])))
    assert action == "utter_emergency"
    assert prediction.is_no_user_prediction and prediction.policy_priority == 7
    values = slots_set(prediction)
    assert "cannot put weight" in values["red_flag_reasons"]
    assert values["triage_result"]["level"] == "emergency"
    assert values["triage_result"]["findings"] == {"cannot_bear_weight": "present", "injury": "present"}


def test_then_the_next_steps_then_listen(policy):
    start = said(present=["bone_showing"])
    assert predicted(policy, tracker(start, [ActionExecuted("utter_emergency")]))[0] == "action_triage_next_steps"
    after = tracker(start, [ActionExecuted("utter_emergency"), ActionExecuted("action_triage_next_steps")])
    assert predicted(policy, after)[0] == ACTION_LISTEN_NAME


def test_findings_over_two_messages(policy):
    first = said("I slipped on the stairs", present=["injury"])
    assert predicted(policy, tracker(first))[0] is None
    second = said("I can't stand on it", present=["cannot_bear_weight"])
    assert predicted(policy, tracker(first, bot("utter_greet"), second))[0] == "utter_emergency"


def test_thanks_after_an_escalation_is_not_escalated_again(policy):
    first = said(present=["bone_showing"])
    done = bot("utter_emergency", "action_triage_next_steps")
    assert predicted(policy, tracker(first, done, said("thanks", "thank")))[0] is None


def test_a_restart_forgets_what_was_said(policy):
    first = said(present=["injury"])
    after_restart = [Restarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    assert predicted(policy, tracker(first, bot("utter_greet"), after_restart,
                                     said(present=["cannot_bear_weight"])))[0] is None


def test_the_crisis_reply_for_thoughts_of_suicide(policy):
    assert predicted(policy, tracker(said(present=["suicidal"])))[0] == "utter_emergency_crisis"


def test_urgent_outside_the_form_but_not_inside_it(policy):
    assert predicted(policy, tracker(said(present=["locked"])))[0] == "utter_urgent_care"
    in_form = [ActiveLoop("self_check_form"), SlotSet("requested_slot", "sc_locked")]
    answer = said("/affirm", "affirm") + [SlotSet("sc_locked", "yes")]
    assert predicted(policy, tracker(said("check", "start_self_check"), bot("action_start_self_check"),
                                     in_form, answer))[0] is None


def test_an_emergency_answer_in_the_form_escalates_and_stops_the_form(policy):
    in_form = [SlotSet("sc_injury", "yes"), ActiveLoop("self_check_form"), SlotSet("requested_slot", "sc_deformity")]
    answer = said("/unsure", "unsure") + [SlotSet("sc_deformity", "unsure")]
    action, prediction = predicted(policy, tracker(said("check", "start_self_check"), bot("self_check_form"),
                                                   in_form, answer))
    assert action == "utter_emergency"
    assert ActiveLoop(None) in prediction.optional_events
    assert slots_set(prediction)["requested_slot"] is None


def test_a_denied_red_flag_or_no_findings_leave_the_turn_to_the_rules(policy):
    assert predicted(policy, tracker(said("no fever", absent=["fever"])))[0] is None
    assert predicted(policy, tracker(said("hello")))[0] is None
    assert predicted(policy, tracker([UserUttered("no record", {"name": "greet"})]))[0] is None


def test_words_that_answer_a_self_check_question_escalate_as_the_answer_would(policy):
    # "my foot has gone numb" after an injury answers "Is the foot below that knee numb...?"
    assert predicted(policy, tracker(said(present=["injury", "numbness"])))[0] == "utter_emergency"
    # "my calf swelled up" answers "Is your calf ... painful and swollen, warm or red?"
    assert predicted(policy, tracker(said(present=["calf_swelling"])))[0] == "utter_emergency"


def test_a_no_button_does_not_cancel_the_words_of_the_same_message(policy):
    in_form = [SlotSet("sc_fever", "yes"), ActiveLoop("self_check_form"), SlotSet("requested_slot", "sc_hot")]
    answer = said("no, but it is swollen and red", "deny", present=["swelling"]) + [SlotSet("sc_hot", "no")]
    action, _ = predicted(policy, tracker(said("check", "start_self_check"), bot("self_check_form"), in_form, answer))
    assert action == "utter_emergency"
