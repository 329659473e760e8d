"""Telegram: any text, any other update, the secret token."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.bad_input.strategies import (
    CHARS,
    content_types,
    encodings_of,
    examples,
    json_objects,
    json_values,
    messages,
    unicode_text,
)
from tests.bad_input.support import (
    CHAT_IDS,
    LateTurns,
    assert_no_leak,
    check,
    refusal,
    sent_to,
    stored_once,
    telegram,
    telegram_secret,
    telegram_update,
    user_events,
)

pytestmark = pytest.mark.slow


# --- Telegram -----------------------------------------------------------------------------------
def test_telegram_any_text_is_answered_and_stored_exactly_once(assistant, fake_telegram, service):
    late_turns = LateTurns()

    @examples(50)
    @given(
        text=messages,
        key=st.sampled_from(["message", "edited_message"]),
        negative=st.booleans(),
        extra=st.dictionaries(
            st.text(CHARS, max_size=10).filter(lambda k: k not in ("text", "chat")), json_values, max_size=3
        ),
        ascii_json=st.booleans(),
    )
    def any_text(text, key, negative, extra, ascii_json):
        chat_id = next(CHAT_IDS) * (-1 if negative else 1)
        body = json.dumps(telegram_update(chat_id, text, key, **extra), ensure_ascii=ascii_json).encode()
        response = telegram(assistant, body, telegram_secret(fake_telegram))
        check(response)
        assert response.status_code == 200 and response.text == "ok", response.text[:300]
        sent = sent_to(fake_telegram, chat_id)
        assert sent and all(part.strip() for part in sent), "silence"
        assert_no_leak("\n".join(sent), text)
        expected = refusal(text)
        if expected:
            assert sent == [service[expected]]
            assert user_events(assistant, str(chat_id)) == 0
        else:
            late = service["utter_unavailable"] in sent
            late_turns.note(late)
            assert stored_once(assistant, str(chat_id), late) == 1, "the message was lost or stored twice"

    any_text()
    late_turns.check()


def telegram_outcome(body: bytes) -> str:
    """What the Telegram channel does with an authentic request: "400" (not JSON), "answer" (a text
    message from a chat), "ignored" (anything else: stickers, joins, channel posts, junk)."""
    try:
        update = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return "400"
    message = (update.get("message") or update.get("edited_message")) if isinstance(update, dict) else None
    text = message.get("text") if isinstance(message, dict) else None
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if type(chat_id) is int and isinstance(text, str):  # a bool is no chat id
        return "answer"
    return "ignored"


telegram_chats = st.one_of(json_values, st.fixed_dictionaries({}, optional={"id": json_values, "type": json_values}))
telegram_messages = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "text": st.one_of(json_values, unicode_text),
            "chat": telegram_chats,
            "message_id": json_values,
            "sticker": json_objects,
            "photo": json_values,
            "new_chat_members": json_values,
        },
    ),
)
telegram_updates = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "update_id": json_values,
            "message": telegram_messages,
            "edited_message": telegram_messages,
            "channel_post": json_values,
            "callback_query": json_values,
            "my_chat_member": json_values,
        },
    ),
)
telegram_bodies = st.one_of(
    telegram_updates.map(lambda update: json.dumps(update).encode()),
    telegram_updates.map(json.dumps).flatmap(encodings_of),
    telegram_updates.map(json.dumps).flatmap(
        lambda text: st.integers(0, max(len(text) - 1, 0)).map(lambda cut: text[:cut].encode())
    ),
    st.binary(max_size=1000),
    unicode_text.map(str.encode),
    st.sampled_from([b"", b"null", b"{}", b"[]", b"0", b'""', b"false", b"x" * 100_000]),
)


@examples(120)
@given(body=telegram_bodies, content_type=content_types)
def test_telegram_any_other_update_or_body_is_ignored_or_gets_a_400(assistant, fake_telegram, body, content_type):
    outcome = telegram_outcome(body)
    assume(outcome in ("400", "ignored"))  # "answer": the test above, with fresh chats
    calls = len(fake_telegram.calls)
    response = telegram(assistant, body, telegram_secret(fake_telegram), content_type)
    check(response, body)
    if outcome == "400":
        assert response.status_code == 400, (response.status_code, response.text[:200])
    else:
        assert response.status_code == 200 and response.text == "ignored", (response.status_code, response.text[:200])
    assert len(fake_telegram.calls) == calls, "sent something for an update without a text message"


@examples(40)
@given(
    secret=st.sampled_from(["missing", "empty", "wrong", "garbage", "other bot"]),
    garbage=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=80),
    body=st.one_of(st.just(None), telegram_bodies),
)
def test_telegram_requests_without_the_secret_token_are_refused_and_start_nothing(
    assistant, fake_telegram, secret, garbage, body
):
    chat_id = next(CHAT_IDS)
    if body is None:  # a well-formed update: what a forger would send
        body = json.dumps(telegram_update(chat_id, "hello")).encode()
    token = {
        "missing": None,
        "empty": "",
        "wrong": telegram_secret(fake_telegram)[::-1],
        "garbage": garbage,
        "other bot": "0" * 64,
    }[secret]
    calls = len(fake_telegram.calls)
    response = telegram(assistant, body, token)
    check(response, body)
    assert response.status_code == 403, (response.status_code, response.text[:200])
    assert len(fake_telegram.calls) == calls and user_events(assistant, str(chat_id)) == 0
