"""RedFlagPolicy on real Rasa trackers and the real domain: what it predicts, and what it leaves to
the other policies. (The decision itself is tested in test_triage.py and test_red_flag_check.py.)"""

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


def said(text="...", intent="greet", present=(), absent=(), unsure=(), model=None):
    findings = {"present": list(present), "absent": list(absent), "unsure": list(unsure)}
    parse = {"findings": findings, **({"red_flag_model": model} if model else {})}
    return [UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data=parse)]


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
    action, prediction = predicted(
        policy,
        tracker(said("cost? also I fell and can't walk", "ask_msc_cost", present=["injury", "cannot_bear_weight"])),
    )
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
    second = said("I can't stand on it", present=["cannot_bear_weight"])
    assert predicted(policy, tracker(first, bot("utter_greet"), second))[0] == "utter_emergency"


# ---------------------------------------------------------------------------------------------------
# Triage before topic: the closed red-flag questions
# ---------------------------------------------------------------------------------------------------
def test_an_injury_without_a_red_flag_gets_the_questions_that_fit_before_its_topic(policy):
    action, prediction = predicted(
        policy, tracker(said("I slipped on the stairs, how much is a consult?", "ask_msc_cost", present=["injury"]))
    )
    assert action == "utter_red_flag_questions" and prediction.is_no_user_prediction
    values = slots_set(prediction)
    assert values["red_flag_questions_asked"][:2] == ["weight_bearing", "deformity"]
    assert "put weight on the leg" in values["red_flag_questions"]


def test_after_the_questions_the_assistant_listens(policy):
    asked = [SlotSet("red_flag_questions_asked", ["weight_bearing"])]
    assert (
        predicted(policy, tracker(said(present=["injury"]), asked, [ActionExecuted("utter_red_flag_questions")]))[0]
        == ACTION_LISTEN_NAME
    )


def ask_then(answer_intent):
    asked = [
        SlotSet("red_flag_questions", "- ..."),
        SlotSet("red_flag_questions_asked", ["weight_bearing", "deformity"]),
    ]
    return tracker(
        said("I slipped", present=["injury"]),
        asked,
        bot("utter_red_flag_questions"),
        said(f"/{answer_intent}", answer_intent),
    )


@pytest.mark.parametrize("answer", ["affirm", "unsure"])
def test_yes_or_not_sure_to_the_questions_is_an_emergency_that_says_which_were_asked(policy, answer):
    action, prediction = predicted(policy, ask_then(answer))
    assert action == "utter_emergency"
    reasons = slots_set(prediction)["red_flag_reasons"]
    assert "one of these applies" in reasons and "put weight on the leg" in reasons
    assert slots_set(prediction)["triage_result"]["decided_by"] == "questions"


def test_no_to_the_questions_leaves_the_turn_to_the_rules_and_asks_nothing_again(policy):
    assert predicted(policy, ask_then("deny"))[0] is None


def test_a_thank_you_after_a_described_problem_asks_nothing(policy):
    done = bot("utter_red_flag_questions")
    assert predicted(policy, tracker(said(present=["injury"]), done, said("thanks", "thank")))[0] is None


def test_an_urgent_problem_with_a_half_met_emergency_gets_the_urgent_reply_then_the_missing_question(policy):
    first = said("heard a pop at football and it's swollen", present=["pop", "swelling"])
    assert predicted(policy, tracker(first))[0] == "utter_urgent_care"
    replied = [ActionExecuted("utter_urgent_care")]
    assert predicted(policy, tracker(first, replied))[0] == "action_triage_next_steps"
    action, prediction = predicted(policy, tracker(first, replied, [ActionExecuted("action_triage_next_steps")]))
    assert action == "utter_red_flag_questions"
    assert "swelled_fast" in slots_set(prediction)["red_flag_questions_asked"]


# ---------------------------------------------------------------------------------------------------
# The learned second opinion, and messages that cannot be read
# ---------------------------------------------------------------------------------------------------
def test_the_classifier_escalates_on_its_own_above_its_threshold(policy):
    sure = {"emergency": 0.97, "urgent": 0.0, "crisis": 0.0, "kind": "dvt"}
    action, prediction = predicted(policy, tracker(said("my leg's gone all funny", model=sure)))
    assert action == "utter_emergency"
    assert "blood clot" in slots_set(prediction)["red_flag_reasons"]
    assert slots_set(prediction)["triage_result"]["decided_by"] == "model"
    unsure = {**sure, "emergency": 0.2}
    assert predicted(policy, tracker(said("my leg's gone all funny", model=unsure)))[0] is None


def test_the_classifier_leaning_to_an_emergency_asks_its_questions(policy):
    leaning = {"emergency": 0.5, "urgent": 0.0, "crisis": 0.0, "kind": "dvt"}
    action, prediction = predicted(policy, tracker(said("my leg's gone all funny", model=leaning)))
    assert action == "utter_red_flag_questions"
    assert slots_set(prediction)["red_flag_questions_asked"] == ["calf"]


def test_a_crisis_the_classifier_sees_gets_the_crisis_line(policy):
    crisis = {"emergency": 0.95, "urgent": 0.0, "crisis": 0.9, "kind": "suicide_or_self_harm"}
    assert predicted(policy, tracker(said("what's the point anymore", model=crisis)))[0] == "utter_emergency_crisis"


def test_a_message_the_assistant_cannot_read_gets_the_notice_with_the_number(policy):
    assert predicted(policy, tracker(said("무릎뼈가 옆으로 빠졌는데 다시 안 들어가요")))[0] == "utter_language_not_read"
    assert predicted(policy, tracker(said("Me caí y no puedo caminar")))[0] != "utter_language_not_read"


def test_another_language_in_latin_letters_gets_the_notice_unless_something_escalated_it(policy):
    italian = "Il ginocchio di mia madre è molto gonfio da stamattina, cosa dobbiamo fare adesso?"
    assert predicted(policy, tracker(said(italian)))[0] == "utter_language_not_read"
    # A rule (or the classifier) that reads it escalates it as usual: the notice is for the rest.
    assert predicted(policy, tracker(said(italian, present=["bone_showing"])))[0] == "utter_emergency"
    assert (
        predicted(policy, tracker(said("my mum's knee is very swollen since this morning, what should we do")))[0]
        != "utter_language_not_read"
    )


def test_thanks_after_an_escalation_is_not_escalated_again(policy):
    first = said(present=["bone_showing"])
    done = bot("utter_emergency", "action_triage_next_steps")
    assert predicted(policy, tracker(first, done, said("thanks", "thank")))[0] is None


def test_a_restart_forgets_what_was_said(policy):
    first = said(present=["injury"])
    after_restart = [Restarted(), ActionExecuted(ACTION_LISTEN_NAME)]
    assert (
        predicted(policy, tracker(first, bot("utter_greet"), after_restart, said(present=["cannot_bear_weight"])))[0]
        is None
    )


def test_the_crisis_reply_for_thoughts_of_suicide(policy):
    assert predicted(policy, tracker(said(present=["suicidal"])))[0] == "utter_emergency_crisis"


def test_urgent_outside_the_form_but_not_inside_it(policy):
    assert predicted(policy, tracker(said(present=["locked"])))[0] == "utter_urgent_care"
    in_form = [ActiveLoop("self_check_form"), SlotSet("requested_slot", "sc_locked")]
    answer = said("/affirm", "affirm") + [SlotSet("sc_locked", "yes")]
    assert (
        predicted(policy, tracker(said("check", "start_self_check"), bot("action_start_self_check"), in_form, answer))[
            0
        ]
        is None
    )


def test_an_emergency_answer_in_the_form_escalates_and_stops_the_form(policy):
    in_form = [SlotSet("sc_injury", "yes"), ActiveLoop("self_check_form"), SlotSet("requested_slot", "sc_deformity")]
    answer = said("/unsure", "unsure") + [SlotSet("sc_deformity", "unsure")]
    action, prediction = predicted(
        policy, tracker(said("check", "start_self_check"), bot("self_check_form"), in_form, answer)
    )
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
