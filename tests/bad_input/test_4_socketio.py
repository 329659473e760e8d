"""socket.io (the widget): events of any shape, the polling endpoint."""

from __future__ import annotations

import collections
import json
import re
import time
import uuid
from typing import Any, Optional

import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.bad_input.strategies import (
    BMP,
    CHARS,
    blank_text,
    boundary_text,
    content_types,
    examples,
    json_objects,
    json_scalars,
    json_values,
    long_text,
    queries,
    unicode_text,
)
from tests.bad_input.support import (
    assert_no_leak,
    check,
    engineio_session,
    eventually,
    refusal,
    socket_connection,
    texts,
    user_events,
)

pytestmark = pytest.mark.slow


# --- socket.io ----------------------------------------------------------------------------------
SESSION_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")  # channels/socketio.py
SESSION = "<this session>"  # replaced by the example's session id
bad_session_ids = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.text(CHARS, max_size=80).filter(lambda s: not SESSION_PATTERN.fullmatch(s)),
)
# The widget's messages are at most a few kB; 100 kB of BMP text stays under engine.io's 1 MB limit
# even as the python client escapes it.
socket_messages = st.one_of(unicode_text, blank_text, st.just(""), boundary_text, long_text(BMP))
# Metadata holding bytes has a test of its own.
socket_metadata = st.one_of(json_values, json_objects, json_objects.map(json.dumps), st.text(CHARS, max_size=30))
socket_events = st.one_of(
    # not a message object: ignored
    st.one_of(
        st.none(),
        st.integers(),
        st.floats(allow_nan=False),
        st.booleans(),
        st.text(CHARS, max_size=50),
        st.lists(json_scalars, max_size=3),
        long_text(BMP, 1000, 20_000),
    ),
    # a message that is not text: ignored
    st.fixed_dictionaries(
        {
            "session_id": st.just(SESSION),
            "message": st.one_of(
                st.none(),
                st.integers(),
                st.floats(allow_nan=False),
                st.booleans(),
                st.lists(json_scalars, max_size=3),
                json_objects,
                st.binary(max_size=20),
            ),
        }
    ),
    # no valid session id (the channel keeps sessions): ignored
    st.fixed_dictionaries({"message": unicode_text}, optional={"session_id": bad_session_ids}),  # type: ignore[misc]
    # a message for this session: answered, or refused politely
    st.fixed_dictionaries(
        {"session_id": st.just(SESSION)}, optional={"message": socket_messages, "metadata": socket_metadata}
    ),
)
session_request_junk = st.one_of(
    st.none(),
    st.integers(),
    st.text(CHARS, max_size=30),
    st.lists(json_scalars, max_size=2),
    st.fixed_dictionaries({}, optional={"session_id": bad_session_ids}),
)


def materialise(event: Any, session: str) -> Any:
    if isinstance(event, dict) and event.get("session_id") == SESSION:
        return {**event, "session_id": session}
    return event


def outcome(event: Any) -> Optional[str]:
    """None when the channel ignores the event, else "answered" or the guard's refusal."""
    if not isinstance(event, dict) or not isinstance(event.get("message", ""), str):
        return None
    if event.get("session_id") != SESSION:
        return None
    return refusal(event.get("message") or "") or "answered"


@examples(25)
@given(events=st.lists(socket_events, max_size=5), junk_request=st.none() | session_request_junk)
def test_socketio_events_of_any_shape_then_a_message_on_the_same_connection_is_answered(
    assistant, socket_loop, service, events, junk_request
):
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        if junk_request is not None:  # a malformed session request gets a fresh session id
            connection.emit("session_request", junk_request)
            assert eventually(lambda: connection.confirms, 10), "no session_confirm"
            assert SESSION_PATTERN.fullmatch(connection.confirms[-1])
        connection.session(session)
        outcomes = [outcome(event) for event in events]
        for event in events:
            connection.emit("user_uttered", materialise(event, session))
        answered = outcomes.count("answered")
        refused = collections.Counter(o for o in outcomes if o not in (None, "answered"))
        refusals = {service[name] for name in refused}

        def settled() -> bool:
            got = collections.Counter(t for t in texts(connection.replies) if t in refusals)
            others = [t for t in texts(connection.replies) if t not in refusals]
            return (
                all(got[service[name]] >= count for name, count in refused.items())
                and len(others) >= answered
                and user_events(assistant, session) >= answered
            )

        assert eventually(settled, 30), (outcomes, texts(connection.replies))
        time.sleep(0.2)
        assert user_events(assistant, session) == answered, "lost or duplicated"
        assert_no_leak("\n".join(texts(connection.replies)), repr(events))
        got = collections.Counter(texts(connection.replies))
        assert all(got[service[name]] == count for name, count in refused.items()), (refused, got)
        # and a valid message on the same connection is still answered and stored
        before = len(connection.replies)
        connection.emit("user_uttered", {"message": "hello", "session_id": session})
        assert eventually(
            lambda: len(connection.replies) > before and user_events(assistant, session) == answered + 1, 30
        ), "no reply to a valid message after the bad ones"
        assert not connection.disconnected


def engineio_hangs(body: bytes) -> bool:
    """KB8: OPEN, PING or NOOP packets from a client make python-engineio close the session and wait
    for a long-poll that a junk client never sends."""
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any(packet[:1] in ("0", "2", "6") for packet in payload.split("\x1e"))


socketio_packets = st.one_of(
    st.tuples(
        st.just("4"),
        st.sampled_from(["0", "1", "2", "3", "4", "5", "6", "7", "9", "x", ""]),
        st.one_of(
            st.text(CHARS, max_size=60),
            json_values.map(json.dumps),
            st.tuples(
                st.sampled_from(["user_uttered", "session_request", "connect", "disconnect", ""]), json_values
            ).map(lambda args: json.dumps(list(args))),
        ),
    ).map("".join),
    st.tuples(
        st.sampled_from(["1", "3", "5", "7", "9", "b", "bAAAA", "b4", "1close"]), st.text(CHARS, max_size=20)
    ).map("".join),
)
polling_bodies = st.one_of(
    st.lists(socketio_packets, min_size=1, max_size=4).map(lambda packets: "\x1e".join(packets).encode()),
    st.binary(max_size=500),
    unicode_text.map(str.encode),
    long_text(BMP, 1000, 100_000).map(lambda text: ("4" + text).encode()),
)
engineio_queries = st.one_of(
    st.just("?EIO=4&transport=polling&sid={sid}"),
    st.sampled_from(
        [
            "?EIO=4&transport=polling",
            "?EIO=3&transport=polling",
            "?EIO=5&transport=polling",
            "?EIO=4&transport=websocket",
            "?EIO=4&transport=polling&sid=nope",
            "?EIO=4&transport=polling&j=x",
            "?EIO=4&transport=polling&b64=1&sid={sid}",
            "?EIO=4&transport=polling&j=0&sid={sid}",
            "",
            "?EIO=%ff&transport=polling",
            "?EIO=4&transport=carrier-pigeon",
        ]
    ),
    queries,
)


@examples(80)
@given(
    body=polling_bodies,
    query=engineio_queries,
    content_type=content_types,
    method=st.sampled_from(["POST", "GET", "PUT"]),
)
def test_socketio_polling_endpoint_survives_junk(assistant, body, query, content_type, method):
    if "{sid}" in query and method == "GET":
        method = "POST"  # a GET on an open session is a long-poll: it waits 25 s for the server's ping
    assume(not (method == "POST" and "{sid}" in query and engineio_hangs(body)))
    if "{sid}" in query:
        query = query.replace("{sid}", engineio_session(assistant))
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.request(
        method,
        assistant.url + "/socket.io/" + query,
        data=body if method != "GET" else None,
        headers=headers,
        timeout=30,
    )
    check(response, query)
