"""Inputs that once broke a channel, each fixed and kept."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.bad_input.support import (
    actions_url,
    check,
    engineio_session,
    eventually,
    new_phone,
    rest,
    signed_twilio,
    socket_connection,
    stored_once,
    telegram,
    telegram_secret,
    telegram_update,
    texts,
    twiml_messages,
)
from tests.fake_telegram import BLOCKED_CHAT

pytestmark = pytest.mark.slow


# --- inputs that once broke a channel (found by the tests above; each fixed, each kept) -------------
def test_telegram_a_reply_that_cannot_be_sent_is_not_taken_twice(assistant, fake_telegram):
    """The Bot API refuses to send (the patient blocked the bot): the webhook still says "ok", or
    Telegram would deliver the update again and the turn would be taken twice."""
    before = stored_once(assistant, str(BLOCKED_CHAT))
    response = telegram(
        assistant, json.dumps(telegram_update(BLOCKED_CHAT, "hello")).encode(), telegram_secret(fake_telegram)
    )
    check(response)
    assert response.status_code == 200 and stored_once(assistant, str(BLOCKED_CHAT)) == before + 1


def test_telegram_a_chat_id_that_is_not_a_number_is_ignored(assistant, fake_telegram):
    response = telegram(assistant, json.dumps(telegram_update(True, "hello")).encode(), telegram_secret(fake_telegram))
    check(response)
    assert response.text == "ignored" and stored_once(assistant, "True") == 0


@pytest.mark.parametrize("channel", ["rest", "telegram"])
@pytest.mark.parametrize(
    "nested",
    [b"[" * 5000 + b"]" * 5000, b'{"sender": "x", "message": ' + b'{"a":' * 2000 + b"1" + b"}" * 2001],
    ids=["list", "object"],
)
def test_deeply_nested_json_gets_a_400(assistant, fake_telegram, channel, nested):
    if channel == "rest":
        response = rest(assistant, nested)
    else:
        response = telegram(assistant, nested, telegram_secret(fake_telegram))
    check(response)
    assert response.status_code == 400


def test_a_lone_surrogate_in_the_text_is_answered_and_stored(assistant, service):
    """JSON can spell a lone surrogate ("\\ud800"), which spaCy's tokenizer and the database refuse."""
    sender = "surrogate-text-" + uuid.uuid4().hex
    response = rest(assistant, json.dumps({"sender": sender, "message": "my knee \ud800 hurts"}).encode())
    check(response)
    assert response.status_code == 200 and response.json(), "silence"
    assert stored_once(assistant, sender) == 1, "the message was lost"
    assert service["utter_unavailable"] not in texts(response.json())


@pytest.mark.parametrize("sender", ["\ud800-x", "a\u0000b", "tab\there"], ids=["surrogate", "NUL", "control"])
def test_a_sender_id_that_cannot_be_stored_gets_a_400_and_the_server_stays_up(assistant, sender):
    """Such an id once stopped the whole server: Rasa's SQL tracker store turns the database's
    ValueError into sys.exit."""
    response = rest(assistant, json.dumps({"sender": sender, "message": "hello"}).encode())
    check(response)
    assert response.status_code == 400 and "sender" in response.json()["error"]
    assert requests.get(assistant.url + "/", timeout=10).status_code == 200 and assistant.rasa.proc.poll() is None


@pytest.mark.parametrize(
    "params",
    [{"Body": ""}, {"Body": "hello", "FromCity": ""}, {"Body": "", "NumMedia": "1", "MediaUrl0": "https://x/y.jpg"}],
    ids=["empty Body", "empty FromCity", "picture only"],
)
def test_twilio_request_with_a_blank_parameter_is_answered(assistant, params):
    """Twilio signs blank parameters too (Body of a picture message, FromCity...)."""
    response = signed_twilio(assistant, {"From": new_phone(), "To": "+15550100", **params})
    check(response)
    assert response.status_code == 200 and twiml_messages(response)


def test_socketio_event_with_extra_arguments_is_handled(assistant, socket_loop):
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", ({"message": "hello", "session_id": session}, "extra"))
        assert eventually(lambda: connection.replies, 30)
    assert "handle_message() takes" not in assistant.rasa.log()


def test_socketio_binary_metadata_is_dropped_not_the_message(assistant, socket_loop):
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", {"message": "hello", "session_id": session, "metadata": {"x": b"\x00\x01"}})
        assert eventually(lambda: connection.replies, 30), "silence"
    assert eventually(lambda: stored_once(assistant, session) == 1, 10), "the message was lost"


@pytest.mark.xfail(
    strict=True,
    reason="KB8 (python-engineio 4.15): a POST to a closed long-polling session gets a "
    "500 (KeyError 'Session is disconnected'); a POST of an OPEN, PING or NOOP "
    "packet, or of more than 1 MB, hangs until Sanic's 60 s response timeout (503)",
)
@pytest.mark.parametrize("first, then", [(b"1", b"40"), (None, b"6")], ids=["after close", "noop hangs"])
def test_known_bug_engineio_long_polling(assistant, first, then):
    url = assistant.url + f"/socket.io/?EIO=4&transport=polling&sid={engineio_session(assistant)}"
    if first is not None:
        assert requests.post(url, data=first, timeout=10).status_code == 200
    response = requests.post(url, data=then, timeout=3)  # ReadTimeout while it hangs
    check(response)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/webhook", b"[]"),
        ("POST", "/webhook", b'"x"'),
        ("POST", "/webhook", b'{"next_action": "action_answer_from_articles", "tracker": null}'),
        ("POST", "/webhook", b'{"next_action": "action_answer_from_articles", "version": 5}'),
        ("GET", "/nope", b""),
        ("POST", "/health", b""),
    ],
    ids=repr,
)
def test_the_action_server_answers_bad_requests_with_a_4xx_and_no_internals(assistant, method, path, body):
    """rasa-sdk's own answer is a 500 quoting the exception and echoing the request (a whole
    conversation): scripts/action_server.py checks the call first and gives plain errors."""
    response = requests.request(
        method, actions_url(assistant) + path, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    check(response, body)
    assert 400 <= response.status_code < 500 and set(response.json()) == {"error"}


def test_an_action_call_whose_tracker_makes_the_action_fail_says_no_more(assistant):
    body = b'{"next_action": "action_answer_from_articles", "tracker": {}}'
    response = requests.post(
        actions_url(assistant) + "/webhook", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 500 and response.json() == {"error": "internal error"}


@pytest.mark.parametrize("accept", ["*", "json", "\x7f"])
@pytest.mark.parametrize(
    "method, path, body", [("GET", "/nope", b""), ("GET", "/webhooks/rest/webhook", b"")], ids=["404", "405"]
)
def test_error_pages_for_a_malformed_accept_header(assistant, accept, method, path, body):
    """Sanic 21.12 renders its error pages by the Accept header and fails on a malformed one (a 500
    "An error occurred while handling an error"): channels/errors.py answers plain JSON."""
    response = requests.request(method, assistant.url + path, data=body, headers={"Accept": accept}, timeout=30)
    check(response)
    assert response.status_code in (404, 405) and "error" in response.json()
