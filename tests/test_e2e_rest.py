"""End to end: the real action server and Rasa server, real questions through the REST channel."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from harness.patients import SERVICE_TEXTS

pytestmark = pytest.mark.slow


def texts(replies):
    return "\n".join(reply.get("text", "") for reply in replies)


def payloads(replies):
    return [button["payload"] for reply in replies for button in reply.get("buttons", [])]


def new_sender():
    return f"patient-{uuid.uuid4().hex[:8]}"


def test_greeting_says_what_it_can_do_and_that_it_is_not_a_doctor(assistant):
    replies = assistant.say(new_sender(), "hello there")
    assert "knee-pain assistant" in texts(replies)
    assert "not a doctor" in texts(replies)
    assert "/start_self_check" in payloads(replies)


def test_cost_question_gets_the_article_answer_with_source_disclaimer_and_next_steps(assistant):
    replies = assistant.say(new_sender(), "how much does stem cell therapy cost?")
    text = texts(replies)
    assert "$5000" in text and "$20000" in text
    assert "Does Stem Cell Therapy Cure Knee Pain?" in text
    assert "investigational" in text
    assert "General information only, not a diagnosis or medical advice" in text
    assert payloads(replies) == ["/start_self_check", "/book_consultation", "/ask_capabilities"]


def test_osteoarthritis_question_names_the_other_article(assistant):
    text = texts(assistant.say(new_sender(), "what are the risk factors for knee osteoarthritis"))
    assert "older age" in text and "obesity" in text
    assert "Beverly Hills Wellness Center" in text
    assert "investigational" not in text


def test_medicine_dose_question_gets_the_honest_scope_answer(assistant):
    text = texts(assistant.say(new_sender(), "how many ibuprofen can i take a day for my knee"))
    assert "outside what I can help with" in text
    assert "Source:" not in text


def test_gibberish_never_gets_an_article_answer(assistant):
    # the scope answer, a request to rephrase, or one clarifying question: which one depends on the
    # model's scores; an article answer never
    text = texts(assistant.say(new_sender(), "blorf wibble snark"))
    assert any(phrase in text for phrase in ("outside what I can help with", "say it another way", "did you mean"))
    assert "Source:" not in text


def test_not_understood_twice_asks_once_then_gives_the_scope_answer(assistant):
    # "/nlu_fallback" is what the classifier gives a message it cannot place; sent as a payload it
    # makes this path deterministic, whatever the model's scores.
    sender = new_sender()
    assert "say it another way" in texts(assistant.say(sender, "/nlu_fallback"))
    second = texts(assistant.say(sender, "/nlu_fallback"))
    assert "outside what I can help with" in second
    assert "say it another way" not in second
    # and the conversation goes on normally afterwards
    assert "$5000" in texts(assistant.say(sender, "how much does stem cell therapy cost?"))


def test_bot_challenge_and_booking(assistant):
    sender = new_sender()
    assert "automated assistant" in texts(assistant.say(sender, "am I talking to a real human?"))
    assert "https://clinic.example/book" in texts(assistant.say(sender, "I'd like to book a consultation"))


def test_conversation_survives_a_server_restart(assistant):
    sender = new_sender()
    assistant.say(sender, "hello there")
    assistant.say(sender, "what causes knee pain?")

    assistant.rasa.stop()
    assistant.start_rasa()

    replies = assistant.say(sender, "is stem cell therapy safe?")
    assert "molecular war" in texts(replies)
    with sqlite3.connect(assistant.tracker_db) as db:
        rows = db.execute(
            "SELECT type_name, intent_name FROM events WHERE sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    intents = [intent for kind, intent in rows if kind == "user"]
    assert intents == ["greet", "ask_knee_pain_causes", "ask_msc_safety"]
    # one session throughout: the restarted server went on with the stored conversation
    assert [kind for kind, _ in rows].count("session_started") == 1


def test_no_message_text_in_the_server_logs(assistant):
    marker = f"zebra{uuid.uuid4().hex[:6]} knee cartilage question"
    assistant.say(new_sender(), marker)
    logs = assistant.rasa.log() + assistant.actions.log()
    assert marker.split()[0] not in logs


# Answered by the dialogue and stored. Empty, blank and oversize messages are answered by the patient
# guard instead, and not stored (the test after this one).
BAD_INPUTS = {
    "emoji": "🦵😭",
    "html": "<script>alert(1)</script><b>hello</b>",
    "spanish": "¿Cuánto cuesta la terapia con células madre?",
    "control characters": "\x00\x07 hello",
    "japanese": "膝の痛み",
}


def user_events(assistant, sender):
    with sqlite3.connect(assistant.tracker_db) as db:
        return db.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)
        ).fetchone()[0]


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_gets_a_polite_reply_and_is_not_lost(assistant, kind):
    sender = new_sender()
    replies = assistant.say(sender, BAD_INPUTS[kind], timeout=60)
    text = texts(replies)
    assert text.strip(), "no reply at all"
    assert "Traceback" not in text and "Exception" not in text
    assert user_events(assistant, sender) == 1


@pytest.mark.parametrize(
    "message, reply",
    [("", "utter_empty_message"), ("   ", "utter_empty_message"), ("knee " * 20_000, "utter_message_too_long")],
    ids=["empty", "blank", "huge"],
)
def test_empty_blank_and_huge_messages_get_the_guards_reply_and_are_not_stored(assistant, message, reply):
    sender = new_sender()
    replies = assistant.say(sender, message, timeout=60)
    assert texts(replies) == SERVICE_TEXTS[reply].replace("{max_chars}", "4000")
    assert user_events(assistant, sender) == 0


def test_rapid_repeats_from_one_patient_are_all_answered_and_kept(assistant):
    from concurrent.futures import ThreadPoolExecutor

    sender = new_sender()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: assistant.say(sender, "what causes knee pain?"), range(8)))
    assert all("gout" in texts(replies) for replies in results)
    assert user_events(assistant, sender) == 8
