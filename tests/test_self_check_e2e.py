"""End to end, through the REST channel: the guided self-check and the red-flag escalation, with the
real action server, and with the action server stopped."""

from __future__ import annotations

import json
import sqlite3

import pytest

from harness.patients import EMERGENCY_NUMBER, NOTHING_WRONG, asked, is_emergency, new_sender, texts
from harness.servers import Assistant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def assistant_without_actions(tmp_path_factory):
    """The Rasa server alone: the action server is down."""
    running = Assistant(tmp_path_factory.mktemp("no-actions"))
    running.start_rasa()
    yield running
    running.stop()


def slot_events(assistant, sender, slot):
    with sqlite3.connect(assistant.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data)["value"] for (data,) in rows if json.loads(data)["name"] == slot]


def test_full_self_check_one_question_at_a_time_then_a_summary_and_a_stored_result(assistant):
    sender = new_sender()
    replies = assistant.say(sender, "/start_self_check")
    assert asked(replies) == "sc_adult"
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny", "/unsure"]
    answers = {**NOTHING_WRONG, "sc_swelling": "/affirm", "sc_morning_stiffness": "/affirm", "sc_age_55": "/affirm"}
    seen = []
    for _ in range(30):
        question = asked(replies)
        if question is None:
            break
        seen.append(question)
        replies = assistant.say(sender, answers[question])
    assert len(seen) == len(set(seen)), "a question was asked twice"
    summary = "\n".join(texts(replies))
    assert "Result: See a clinician soon" in summary and "morning stiffness" in summary
    assert not any(is_emergency(t) for t in texts(replies))
    assert "/book_consultation" in [b["payload"] for r in replies for b in r.get("buttons", [])]
    record = slot_events(assistant, sender, "triage_result")[-1]
    assert record["source"] == "self_check" and record["level"] == "see_clinician"
    assert record["findings"]["swelling"] == "present" and record["answers"]["sc_adult"] == "yes"
    assert record["decided_at"]


def test_what_the_patient_said_before_is_not_asked_again(assistant):
    sender = new_sender()
    assistant.say(sender, "I twisted my knee playing football last week and now it's swollen")
    replies = assistant.say(sender, "/start_self_check")
    seen = []
    while asked(replies) and len(seen) < 30:
        seen.append(asked(replies))
        replies = assistant.say(sender, NOTHING_WRONG[seen[-1]])
    assert "sc_injury" not in seen and "sc_swelling" not in seen
    assert "sc_rapid_swelling" in seen  # the injury's follow-up question is asked


def test_a_question_mid_form_is_answered_and_the_same_question_comes_back(assistant):
    sender = new_sender()
    assistant.say(sender, "/start_self_check")
    replies = assistant.say(sender, "/affirm")
    assert asked(replies) == "sc_injury"
    replies = assistant.say(sender, "how much does stem cell therapy cost?")
    joined = "\n".join(texts(replies))
    assert "cost" in joined.lower() and asked(replies) == "sc_injury"
    assert asked(assistant.say(sender, "/deny")) == "sc_weight_bearing"


def test_stop_and_start_again(assistant):
    sender = new_sender()
    assistant.say(sender, "/start_self_check")
    assistant.say(sender, "/affirm")
    replies = assistant.say(sender, "stop")
    assert "stopped the self-check" in "\n".join(texts(replies)) and asked(replies) is None
    assert asked(assistant.say(sender, "/restart_self_check")) == "sc_adult"


def test_a_red_flag_answer_mid_form_escalates_first_and_ends_the_check(assistant):
    sender = new_sender()
    assistant.say(sender, "/start_self_check")
    assistant.say(sender, "/affirm")  # 16 or older
    assistant.say(sender, "/affirm")  # an injury
    replies = assistant.say(sender, "/affirm")  # the knee looks deformed
    assert is_emergency(texts(replies)[0])
    assert asked(replies) is None
    assert slot_events(assistant, sender, "triage_result")[-1]["level"] == "emergency"
    # the check is over: a "no" now is not taken as an answer
    assert asked(assistant.say(sender, "/deny")) is None


def test_a_red_flag_in_words_mid_form_escalates_first(assistant):
    sender = new_sender()
    assistant.say(sender, "/start_self_check")
    assistant.say(sender, "/affirm")
    replies = assistant.say(sender, "no, but my calf has gone red, hot and swollen since last night")
    assert is_emergency(texts(replies)[0])


def test_urgent_red_flag_outside_the_form_comes_first_then_the_question_is_answered(assistant):
    replies = assistant.say(
        new_sender(), "my knee locked up this morning and won't straighten. how much does stem cell therapy cost?"
    )
    assert "today" in texts(replies)[0] and not any(is_emergency(t) for t in texts(replies))
    assert "You told me your knee has locked" in texts(replies)[1]
    # the question is answered, under the topic's name (a mixed message is a guess, shown as one)
    assert any(t.startswith("About your question (") for t in texts(replies))


def test_only_escalations_contain_the_emergency_number(assistant):
    sender = new_sender()
    for message in ["hi", "/start_self_check", "/affirm", "/deny", "what is osteoarthritis?", "stop", "thanks", "bye"]:
        for text in texts(assistant.say(sender, message)):
            assert EMERGENCY_NUMBER not in text, (message, text)


def test_emergency_reply_with_the_action_server_down(assistant_without_actions):
    sender = new_sender()
    replies = assistant_without_actions.say(
        sender, "hi, how much do stem cells cost? also I fell off a ladder and my knee is bent sideways"
    )
    first = texts(replies)[0]
    assert is_emergency(first) and "out of place" in first
    # the structured result is stored even without the action server
    assert slot_events(assistant_without_actions, sender, "triage_result")[-1]["level"] == "emergency"


def test_crisis_line_with_the_action_server_down(assistant_without_actions):
    replies = assistant_without_actions.say(new_sender(), "my knee pain is so bad I want to end it all")
    first = texts(replies)[0]
    assert is_emergency(first) and "988" in first


# --- triage before topic: the closed red-flag questions ------------------------------------------
def test_a_described_injury_gets_the_closed_questions_first_then_no_gets_its_question_answered(assistant):
    sender = new_sender()
    first = texts(assistant.say(sender, "I slipped on the stairs this morning. How much does stem cell therapy cost?"))
    assert "check this isn't an emergency" in first[0] and "put weight on the leg" in first[0]
    assert not any("$5000" in t for t in first)  # the topic waits for the answer
    after = texts(assistant.say(sender, "/deny"))
    assert "doesn't sound like an emergency" in after[0]
    assert any("$5000" in t and t.startswith("About your question (") for t in after)
    assert not any(is_emergency(t) for t in after)


def test_yes_to_the_closed_questions_is_an_emergency_even_without_the_action_server(assistant_without_actions):
    sender = new_sender()
    asked_first = texts(assistant_without_actions.say(sender, "my son fell off the trampoline and hurt his knee"))
    assert "check this isn't an emergency" in asked_first[0]
    reply = texts(assistant_without_actions.say(sender, "yes"))[0]
    assert is_emergency(reply) and "one of these applies" in reply


def test_a_message_in_a_script_the_assistant_cannot_read_gets_the_emergency_number(assistant_without_actions):
    reply = texts(assistant_without_actions.say(new_sender(), "무릎뼈가 옆으로 빠졌는데 다시 안 들어가요"))[0]
    assert EMERGENCY_NUMBER in reply and "only read English" in reply
