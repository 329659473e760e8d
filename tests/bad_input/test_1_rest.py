"""REST: any text, malformed requests, every path and method, the rate limit."""

from __future__ import annotations

import json
import time
import unicodedata
import uuid
from typing import Any, Dict

import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.bad_input.strategies import (
    ACCEPTS,
    API_PATHS,
    HEALTH,
    MAX_BODY_BYTES,
    METHODS,
    RATE_COUNT,
    WEBHOOKS,
    content_types,
    examples,
    json_objects,
    messages,
    paths,
    queries,
    rest_bodies,
    unicode_text,
)
from tests.bad_input.support import (
    LateTurns,
    check,
    eventually,
    refusal,
    rest,
    stored_once,
    texts,
    user_events,
)

pytestmark = pytest.mark.slow


# --- REST ---------------------------------------------------------------------------------------
def test_rest_any_text_is_answered_and_stored_exactly_once(assistant, service):
    late_turns = LateTurns()

    @examples(120)
    @given(message=messages, name=unicode_text, ascii_json=st.booleans(), metadata=st.none() | json_objects)
    def any_text(message, name, ascii_json, metadata):
        sender = f"{name[:60]}~{uuid.uuid4().hex}"
        payload: Dict[str, Any] = {"sender": sender, "message": message}
        if metadata is not None:
            payload["metadata"] = metadata
        body = json.dumps(payload, ensure_ascii=ascii_json).encode()
        started = time.monotonic()
        response = rest(assistant, body)
        took = time.monotonic() - started
        check(response, body)
        if len(body) > MAX_BODY_BYTES:  # refused before it is read, with a JSON reason
            assert response.status_code == 413 and isinstance(response.json().get("error"), str)
            assert user_events(assistant, sender) == 0
            return
        if any(unicodedata.category(char) == "Cc" for char in sender):  # a NUL cannot be a database key
            assert response.status_code == 400 and "sender" in response.json()["error"]
            return
        assert response.status_code == 200, response.text[:300]
        replies = response.json()
        assert isinstance(replies, list) and replies, "silence"
        assert all(reply.get("recipient_id") == sender for reply in replies)
        assert all(
            reply.get("text") or reply.get("buttons") or reply.get("image") or reply.get("custom") for reply in replies
        ), replies
        expected = refusal(message)
        if expected:
            assert texts(replies) == [service[expected]]
            assert user_events(assistant, sender) == 0, "a refused message was stored"
        else:
            late = service["utter_unavailable"] in texts(replies)
            late_turns.note(late)
            assert stored_once(assistant, sender, late) == 1, "the message was lost or stored twice"
            if took < 5:  # well under the guard's deadline: "a technical problem" is a real failure
                assert not late, replies

    any_text()
    late_turns.check()


@examples(150)
@given(body=rest_bodies, content_type=content_types)
def test_rest_malformed_requests_get_a_4xx_with_a_reason_or_an_answer(assistant, body, content_type):
    response = rest(assistant, body, content_type)
    check(response, body)
    assert response.status_code in (200, 400, 413), response.status_code
    if response.status_code == 200:  # the body was a valid request after all
        request = json.loads(body)
        assert isinstance(request, dict) and isinstance(request.get("sender"), str) and request["sender"].strip()
        replies = response.json()
        assert isinstance(replies, list) and replies, "silence"
    else:
        assert isinstance(response.json().get("error"), str)


# --- every path and method on the Rasa server ---------------------------------------------------
@examples(100)
@given(
    method=st.sampled_from(METHODS),
    path=paths,
    query=queries,
    body=st.binary(max_size=300) | unicode_text.map(str.encode),
    content_type=content_types,
    accept=st.sampled_from(ACCEPTS),
)
def test_rasa_server_any_path_and_method_gets_no_5xx(assistant, method, path, query, body, content_type, accept):
    assume(not (method == "POST" and path in WEBHOOKS))  # the webhooks' own tests send them bodies
    headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value is not None}
    response = requests.request(method, assistant.url + path + query, data=body or None, headers=headers, timeout=30)
    check(response, path + query)
    if path in API_PATHS:  # Rasa's HTTP API is off (CORS answers OPTIONS on any path, with nothing)
        assert response.status_code in (404, 405) or (method == "OPTIONS" and not response.content)
    if method == "GET" and path in HEALTH:
        assert response.status_code == 200 and response.json() == {"status": "ok"}
    if method == "GET" and path == "/":
        assert response.status_code == 200 and response.text.startswith("Hello from Rasa")


# --- the rate limit -----------------------------------------------------------------------------
def test_rest_rate_limit_gets_the_polite_reply_and_is_not_stored(assistant, service):
    sender = "rate-" + uuid.uuid4().hex
    for _ in range(RATE_COUNT):
        replies = assistant.say(sender, "hello")
        assert replies and service["utter_slow_down"] not in texts(replies)
    assert eventually(lambda: user_events(assistant, sender) == RATE_COUNT, 20)
    assert texts(assistant.say(sender, "hello")) == [service["utter_slow_down"]]
    assert texts(assistant.say(sender, "")) == [service["utter_empty_message"]]  # refused before it is counted
    assert user_events(assistant, sender) == RATE_COUNT
    assert texts(assistant.say("rate-" + uuid.uuid4().hex, "hello")) != [service["utter_slow_down"]]  # per patient
