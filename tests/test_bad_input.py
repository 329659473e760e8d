"""Bad input on every endpoint, hypothesis-driven, against the real servers: the Rasa server (REST,
socket.io, Twilio and Telegram channels, its status page, unknown paths) and the action server.

Inputs: arbitrary unicode (control characters, RTL and zero-width marks, emoji, astral planes),
empty and whitespace-only text, 100 kB messages, binary bytes, malformed JSON, JSON of the wrong
types, wrong or missing Content-Type, wrong methods, junk engine.io payloads and socket.io events.

Properties, for every request: no 5xx, no stack trace or Python module path in the body, and both
servers still up and answering afterwards. For every message a channel accepts: a reply, never
silence, and exactly one `user` event for its sender in the tracker store (nothing lost); an empty,
an oversize or a rate-limited message gets the guard's polite reply and is not stored.

Known bugs: each has a strict xfail test below (KB1...KB10), so the fix makes it XPASS and fail
until the mark goes. The hypothesis strategies leave out exactly those inputs, so that everything
else stays guarded meanwhile; the comments say where.

One Rasa server for the module, with Twilio and Telegram on (a fake Bot API on loopback) and a
rate limit of RATE_LIMIT: every example uses a fresh sender, so only the rate-limit test reaches
it. The one input that stops the server (KB4) gets a throwaway Rasa server of its own.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import json
import os
import re
import sqlite3
import string
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.fake_telegram import FakeBotAPI
from tests.servers import ROOT, Assistant

pytestmark = pytest.mark.slow

AUTH_TOKEN = "test-auth-token"
RATE_LIMIT = "10/60"
RATE_COUNT = 10
# The channels' limits, as the server reads them (checked against the code by the `service` fixture).
MAX_CHARS = int(os.environ.get("MAX_MESSAGE_CHARS", "4000"))  # channels/guard.py
MAX_BODY_BYTES = 256 * 1024                                  # channels/rest.py
SCALE = float(os.environ.get("BAD_INPUT_SCALE", "1"))         # more examples for a deeper local run


def examples(count: int) -> settings:
    # derandomize: the same examples on every run and in CI; database=None: no .hypothesis/ directory.
    return settings(max_examples=max(1, int(count * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


# --- strategies ---------------------------------------------------------------------------------
# Every code point a UTF-8 channel can carry. Lone surrogates (JSON can spell them, "\ud800") are
# left out here: KB3 (text) and KB4 (sender).
CHARS = st.characters(exclude_categories=("Cs",))
BMP = st.characters(exclude_categories=("Cs",), max_codepoint=0xFFFF)
SPECIALS = [
    "\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x1c", "\x1f", "\x7f", "\x85",
    "\xa0", "\u00ad", "\u034f", "\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2028", "\u2029",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2060", "\u2066", "\u2067", "\u2068", "\u2069", "\u3000",
    "\ufeff", "\ufffc", "\ufffd", "\uffff", "\U000e0001", "\U0010fffd", "😀", "👍🏽", "👨‍👩‍👧", "🇬🇧", "e\u0301",
    "ﷺ", "𝕂𝕟𝕖𝕖", "ق", "שלום", "日本語", "Ω", "ǅ", "İ", "/", "/restart", "{", "}", '"', "\\", "<script>", "%s",
    "{0}", "${x}", "' OR 1=1 --", "../../etc/passwd", "\\u0000", "&amp;", "]]>", "+", "&", "=",
]
WORDS = ["knee", " pain", " hello", " cost", " stem cell", " swollen", " 1", " yes", " ", "?"]
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"

unicode_text = st.one_of(
    st.text(CHARS, max_size=120),
    st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(CHARS, max_size=4), st.sampled_from(WORDS)),
             max_size=25).map("".join),
)
blank_text = st.text(st.sampled_from(WHITESPACE), max_size=40)


def repeat_to(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def long_text(alphabet=CHARS, low: int = MAX_CHARS + 1, high: int = 100_000):
    """Up to 100 kB without drawing every character: a short unit repeated."""
    units = st.one_of(st.text(alphabet, min_size=1, max_size=6), st.sampled_from(["knee pain ", "a", "é", "😀", "\x00"]))
    return st.builds(repeat_to, units, st.integers(low, high))


boundary_text = st.builds(repeat_to, st.sampled_from(["a", "é", "😀", "knee ", "\u200b", " a"]),
                          st.integers(MAX_CHARS - 2, MAX_CHARS + 2))
# Any text a patient could send: the channel must answer it, store it once, or refuse it politely.
messages = st.one_of(unicode_text, blank_text, st.just(""), boundary_text, long_text())

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(CHARS, max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(CHARS, max_size=10), inner, max_size=4)), max_leaves=12)
json_objects = st.dictionaries(st.text(CHARS, max_size=10), json_values, max_size=4)

CONTENT_TYPES = [None, "application/json", "application/json; charset=latin-1", "text/plain",
                 "text/plain; charset=utf-16", "application/x-www-form-urlencoded", "multipart/form-data",
                 "multipart/form-data; boundary=xyz", "application/octet-stream", "image/png", "", "*/*",
                 "application/xml", "application/json; boundary=\x7f"]
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), st.text(st.characters(min_codepoint=32, max_codepoint=126),
                                                                   max_size=40))


def encodings_of(text: str) -> st.SearchStrategy[bytes]:
    def encode(codec: str) -> bytes:
        return text.encode(codec, "replace")
    return st.sampled_from(["utf-8", "utf-16", "utf-32-be", "latin-1", "cp1252", "utf-8-sig"]).map(encode)


# --- oracles and checks -------------------------------------------------------------------------
LEAK = re.compile(r'Traceback|File "|Exception|\w\.py\b|site-packages|/work/|/usr/lib/python|'
                  r'\b(?:rasa|rasa_sdk|sanic|sanic_routing|channels|stores|privacy|actions|engineio|socketio|'
                  r'aiogram|aiohttp|sqlalchemy|spacy|asyncio|uvloop)\.[a-z_]+')


def assert_no_leak(body: str, sent: Any = b"") -> None:
    """No stack trace, source path or module path in a response. A match that the request itself
    contained (an echoed path or action name) does not count."""
    if isinstance(sent, bytes):
        sent = sent.decode("utf-8", "replace")
    sent = f"{sent} {json.dumps(sent)}"
    leaks = [m.group() for m in LEAK.finditer(body) if m.group() not in sent]
    assert not leaks, f"the response leaks {leaks}: {body[:2000]!r}"


def check(response: requests.Response, sent: Any = b"") -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]!r}"
    assert_no_leak(response.text, sent)


def refusal(text: str) -> Optional[str]:
    """The guard's reply for a message it does not process, or None (rasa's UserMessage strips the text)."""
    text = text.strip()
    if not text:
        return "utter_empty_message"
    if len(text) > MAX_CHARS:
        return "utter_message_too_long"
    return None


def eventually(condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def user_events(assistant: Assistant, sender: str) -> int:
    with contextlib.closing(sqlite3.connect(assistant.tracker_db, timeout=10)) as db:
        return db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user'",
                          (sender,)).fetchone()[0]


def stored_once(assistant: Assistant, sender: str) -> int:
    """The sender's user events once one is there (a turn past the guard's deadline is stored late)
    or after 20 s, and after a moment more for a duplicate."""
    eventually(lambda: user_events(assistant, sender) >= 1, timeout=20)
    time.sleep(0.05)
    return user_events(assistant, sender)


def texts(replies: Iterable[Dict]) -> List[str]:
    return [reply.get("text") or "" for reply in replies]


# --- servers and clients ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_telegram():
    api = FakeBotAPI().start()
    yield api
    api.stop()


def channel_env(fake_telegram: FakeBotAPI) -> Dict[str, str]:
    return {"TWILIO_ACCOUNT_SID": "ACtest", "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_NUMBER": "+15550100",
            "TELEGRAM_TOKEN": "123456:TEST", "TELEGRAM_WEBHOOK_URL": "https://clinic.example/webhooks/telegram/webhook",
            "TELEGRAM_API_URL": fake_telegram.url, "RATE_LIMIT": RATE_LIMIT}


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, fake_telegram):
    running = Assistant(tmp_path_factory.mktemp("bad_input"), extra_env=channel_env(fake_telegram))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def service() -> Dict[str, str]:
    """The guard's replies as the server sends them, and the limits above checked against the code."""
    from rasa.shared.core.domain import Domain

    from channels import guard, rest
    assert guard.MAX_MESSAGE_CHARS == MAX_CHARS and rest.MAX_BODY_BYTES == MAX_BODY_BYTES
    replies = guard.ServiceReplies(Domain.load(str(ROOT / "domain")), max_chars=MAX_CHARS)
    return {name: replies[name] for name in
            ("utter_empty_message", "utter_message_too_long", "utter_slow_down", "utter_unavailable")}


class SocketLoop:
    """An event loop on a thread of its own, for python-socketio's AsyncClient in synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="socketio-client", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def socket_loop():
    loop = SocketLoop()
    yield loop
    loop.close()


_NO_DATA = object()


class SocketConnection:
    """One socket.io connection as the web widget makes it, long-polling only (WebSockets do not work
    on this Sanic); it records what the server sends."""

    def __init__(self, loop: SocketLoop, url: str) -> None:
        import socketio

        self.loop = loop
        self.replies: List[Dict] = []
        self.confirms: List[Any] = []
        self.disconnected = False
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.client.on("bot_uttered", self.replies.append)
        self.client.on("session_confirm", self.confirms.append)
        self.client.on("disconnect", self._gone)
        loop.run(self.client.connect(url, transports=["polling"], socketio_path="/socket.io", wait_timeout=10))

    def _gone(self, *_: Any) -> None:
        self.disconnected = True

    def emit(self, event: str, data: Any = _NO_DATA) -> None:
        self.loop.run(self.client.emit(event) if data is _NO_DATA else self.client.emit(event, data))

    def session(self, session_id: str) -> None:
        before = len(self.confirms)
        self.emit("session_request", {"session_id": session_id})
        assert eventually(lambda: len(self.confirms) > before, 10), "no session_confirm"
        assert self.confirms[-1] == session_id

    def close(self) -> None:
        if self.client.connected:
            self.loop.run(self.client.disconnect())


@contextlib.contextmanager
def socket_connection(loop: SocketLoop, assistant: Assistant):
    connection = SocketConnection(loop, assistant.url)
    try:
        yield connection
    finally:
        connection.close()


def rest(assistant: Assistant, body: bytes, content_type: Optional[str] = "application/json",
         method: str = "POST") -> requests.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return requests.request(method, assistant.url + "/webhooks/rest/webhook", data=body, headers=headers, timeout=60)


def twilio_url(assistant: Assistant) -> str:
    return assistant.url + "/webhooks/twilio/webhook"


def signed_twilio(assistant: Assistant, params: Dict[str, str]) -> requests.Response:
    url = twilio_url(assistant)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60)


def twiml_messages(response: requests.Response) -> List[str]:
    return [message.text or "" for message in ElementTree.fromstring(response.text).iter("Message")]


def new_phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:10]


CHAT_IDS = itertools.count(7_000_000_001)


def telegram(assistant: Assistant, body: bytes, content_type: Optional[str] = "application/json") -> requests.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return requests.post(assistant.url + "/webhooks/telegram/webhook", data=body, headers=headers, timeout=60)


def telegram_update(chat_id: Any, text: Any, key: str = "message", **extra: Any) -> Dict[str, Any]:
    return {"update_id": 1, key: {"message_id": 1, "date": 0, "text": text, "chat": {"id": chat_id, "type": "private"},
                                  "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"}, **extra}}


def engineio_session(assistant: Assistant) -> str:
    opened = requests.get(assistant.url + "/socket.io/?EIO=4&transport=polling", timeout=10)
    assert opened.status_code == 200 and opened.text.startswith("0"), opened.text[:200]
    return json.loads(opened.text[1:])["sid"]


def actions_url(assistant: Assistant) -> str:
    return f"http://127.0.0.1:{assistant.actions_port}"


# --- REST ---------------------------------------------------------------------------------------
@examples(120)
@given(message=messages, name=unicode_text, ascii_json=st.booleans(), metadata=st.none() | json_objects)
def test_rest_any_text_is_answered_and_stored_exactly_once(assistant, service, message, name, ascii_json, metadata):
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
    assert response.status_code == 200, response.text[:300]
    replies = response.json()
    assert isinstance(replies, list) and replies, "silence"
    assert all(reply.get("recipient_id") == sender for reply in replies)
    assert all(reply.get("text") or reply.get("buttons") or reply.get("image") or reply.get("custom")
               for reply in replies), replies
    expected = refusal(message)
    if expected:
        assert texts(replies) == [service[expected]]
        assert user_events(assistant, sender) == 0, "a refused message was stored"
    else:
        assert stored_once(assistant, sender) == 1, "the message was lost or stored twice"
        if took < 5:  # under the guard's deadline: "a technical problem" would be a real failure
            assert service["utter_unavailable"] not in texts(replies)


rest_fields = st.fixed_dictionaries({}, optional={
    "sender": st.one_of(json_values, st.text(CHARS, max_size=200), blank_text),
    "message": st.one_of(json_values, messages),
    "metadata": st.one_of(json_values, json_objects),
    "input_channel": json_values,
})
rest_json = st.one_of(json_values, rest_fields).map(json.dumps)
rest_bodies = st.one_of(
    rest_json.map(str.encode),
    rest_json.flatmap(lambda text: st.integers(0, max(len(text) - 1, 0)).map(lambda cut: text[:cut].encode())),
    rest_json.flatmap(encodings_of),
    st.binary(max_size=2000),
    st.sampled_from([b"", b" ", b"null", b"{}", b"[]", b'""', b"0", b"NaN", b"{,}", b'{"sender": "x",}', b"\xef\xbb\xbf{}",
                     b'{"sender": "a", "sender": 5}', b"\x00" * 64, b"x" * (MAX_BODY_BYTES + 1)]),
    # Nesting stays shallow here: deep nesting is KB2.
    st.integers(1, 60).map(lambda depth: (b'{"sender": "nest", "metadata": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}")),
)


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
RASA_PATHS = ["/", "/webhooks/rest/", "/webhooks/rest", "/webhooks/rest/webhook", "/webhooks/twilio/",
              "/webhooks/twilio/webhook", "/webhooks/telegram/", "/webhooks/telegram/webhook", "/webhooks/socketio/",
              "/webhooks/nope/webhook", "/webhooks/", "/webhooks/rest/webhook/extra", "/webhooks/callback/webhook"]
API_PATHS = ["/status", "/version", "/domain", "/model/parse", "/conversations/x/tracker",
             "/conversations/x/tracker/events", "/conversations/x/messages", "/model", "/model/predict"]
HEALTH = {"/webhooks/rest/", "/webhooks/twilio/", "/webhooks/telegram/"}
WEBHOOKS = {"/webhooks/rest/webhook", "/webhooks/twilio/webhook", "/webhooks/telegram/webhook"}
segment = st.one_of(st.text(st.sampled_from(string.ascii_letters + string.digits + "-_.~%;,!$'()*+="), max_size=12),
                    st.text(CHARS, max_size=8).map(lambda text: quote(text, safe="")))
paths = st.one_of(st.sampled_from(RASA_PATHS + API_PATHS),
                  st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)))
queries = st.one_of(st.just(""), st.dictionaries(st.text(CHARS, max_size=8), st.text(CHARS, max_size=20), max_size=3).map(
    lambda params: "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())))
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND", "FOO"]
# Well-formed Accept headers only: a malformed one is KB10.
ACCEPTS = [None, "application/json", "text/html", "*/*", "text/plain;q=0.5, application/json", "application/xml"]


@examples(100)
@given(method=st.sampled_from(METHODS), path=paths, query=queries, body=st.binary(max_size=300) | unicode_text.map(str.encode),
       content_type=content_types, accept=st.sampled_from(ACCEPTS))
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


# --- Twilio -------------------------------------------------------------------------------------
# Values are never empty here: a blank parameter breaks the signature check (KB5).
nonblank = st.text(CHARS, min_size=1, max_size=40)
twilio_extra = st.dictionaries(st.text(CHARS, min_size=1, max_size=12).filter(lambda key: key not in ("From", "Body")),
                               nonblank, max_size=4)


@examples(50)
@given(body=messages.filter(lambda text: text != ""), prefix=st.sampled_from(["", "whatsapp:", "messenger:"]) | nonblank,
       extra=twilio_extra)
def test_twilio_signed_any_body_is_answered_and_stored_exactly_once(assistant, service, body, prefix, extra):
    sender = prefix + new_phone()
    response = signed_twilio(assistant, {**extra, "From": sender, "To": "+15550100", "Body": body})
    check(response)
    assert response.status_code == 200 and "xml" in response.headers["Content-Type"], response.text[:300]
    parts = twiml_messages(response)
    assert parts and all(part.strip() for part in parts), "silence"
    expected = refusal(body)
    if expected:
        assert parts == [service[expected]]
        assert user_events(assistant, sender) == 0
    else:
        assert stored_once(assistant, sender) == 1, "the message was lost or stored twice"


twilio_forms = st.dictionaries(st.sampled_from(["From", "Body", "To", "MessageSid"]) | st.text(CHARS, max_size=8),
                               st.text(CHARS, max_size=60) | long_text(high=20_000), max_size=5)


@examples(60)
@given(form=twilio_forms, signature=st.sampled_from(["missing", "forged", "other-url", "garbage", "empty"]),
       garbage=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
       as_bytes=st.none() | st.binary(max_size=500), content_type=content_types)
def test_twilio_unsigned_forged_or_garbage_requests_are_refused_and_start_nothing(
        assistant, form, signature, garbage, as_bytes, content_type):
    url = twilio_url(assistant)
    sender = "+1555-unsigned-" + uuid.uuid4().hex
    form = {**form, "From": sender}
    headers = {}
    if signature == "forged":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(url, form)
    elif signature == "other-url":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(url + "?x=1", form)
    elif signature == "garbage":
        headers["X-Twilio-Signature"] = garbage
    elif signature == "empty":
        headers["X-Twilio-Signature"] = ""
    if as_bytes is not None:  # a body that is not the form at all
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = requests.post(url, data=as_bytes, headers=headers, timeout=30)
    else:
        response = requests.post(url, data=form, headers=headers, timeout=30)
    check(response)
    assert response.status_code == 403, (response.status_code, response.text[:200])
    assert user_events(assistant, sender) == 0


# --- Telegram -----------------------------------------------------------------------------------
@examples(50)
@given(text=messages, key=st.sampled_from(["message", "edited_message"]), negative=st.booleans(),
       extra=st.dictionaries(st.text(CHARS, max_size=10).filter(lambda k: k not in ("text", "chat")), json_values,
                             max_size=3),
       ascii_json=st.booleans())
def test_telegram_any_text_is_answered_and_stored_exactly_once(assistant, fake_telegram, service, text, key, negative,
                                                               extra, ascii_json):
    chat_id = next(CHAT_IDS) * (-1 if negative else 1)
    body = json.dumps(telegram_update(chat_id, text, key, **extra), ensure_ascii=ascii_json).encode()
    response = telegram(assistant, body)
    check(response)
    assert response.status_code == 200 and response.text == "ok", response.text[:300]
    sent = fake_telegram.sent_to(chat_id)
    assert sent and all(part.strip() for part in sent), "silence"
    expected = refusal(text)
    if expected:
        assert sent == [service[expected]]
        assert user_events(assistant, str(chat_id)) == 0
    else:
        assert stored_once(assistant, str(chat_id)) == 1, "the message was lost or stored twice"


FALSY = st.sampled_from([None, {}, [], 0, "", False])


def ignorable_update(chat_id: int):
    """Updates with nothing to answer (stickers, joins, channel posts, callback queries...). The
    wrong-typed ones are KB1, left out here."""
    message_without_text = st.fixed_dictionaries({"chat": st.fixed_dictionaries({"id": st.just(chat_id)})}, optional={
        "text": st.none(), "sticker": json_objects, "photo": st.lists(json_objects, max_size=2),
        "new_chat_members": st.lists(json_objects, max_size=2)})
    message_without_chat = st.fixed_dictionaries({"text": unicode_text}, optional={
        "chat": FALSY | st.fixed_dictionaries({}, optional={"id": st.none(), "type": st.text(CHARS, max_size=8)})})
    message = st.one_of(FALSY, message_without_text, message_without_chat)
    return st.one_of(
        st.fixed_dictionaries({"update_id": st.integers()}, optional={"message": message, "edited_message": message}),
        st.fixed_dictionaries({"update_id": st.integers()}, optional={
            "channel_post": json_values, "callback_query": json_values, "my_chat_member": json_values,
            "inline_query": json_values, "poll": json_values}),
        FALSY,
    )


@examples(60)
@given(data=st.data(), content_type=content_types)
def test_telegram_updates_without_a_text_message_are_ignored(assistant, fake_telegram, data, content_type):
    chat_id = next(CHAT_IDS)
    update = data.draw(ignorable_update(chat_id))
    body = json.dumps(update).encode()
    calls = len(fake_telegram.calls)
    response = telegram(assistant, body, content_type)
    check(response)
    assert response.status_code == 200 and response.text == "ignored", response.text[:300]
    assert len(fake_telegram.calls) == calls, "sent something for an update without a text message"
    assert user_events(assistant, str(chat_id)) == 0


def telegram_crashes(body: bytes) -> bool:
    """KB1: the update, parsed as Sanic parses it, is not an object, or its message, chat, text or
    chat id has the wrong type."""
    from sanic.request import json_loads

    try:
        update = json_loads(body) or {}
    except Exception:
        return False
    if not isinstance(update, dict):
        return True
    message = update.get("message") or update.get("edited_message") or {}
    if not isinstance(message, dict) or not isinstance(message.get("chat") or {}, dict):
        return True
    text, chat_id = message.get("text"), (message.get("chat") or {}).get("id")
    if text is None or chat_id is None:
        return False
    return not isinstance(text, str) or not isinstance(chat_id, int) or isinstance(chat_id, bool)


@examples(60)
@given(body=st.one_of(st.binary(max_size=1000), unicode_text.map(str.encode), rest_json.flatmap(encodings_of),
                      st.just(b"x" * 100_000)),
       content_type=content_types)
def test_telegram_malformed_bodies_get_a_4xx_or_are_ignored(assistant, fake_telegram, body, content_type):
    assume(not telegram_crashes(body))
    calls = len(fake_telegram.calls)
    response = telegram(assistant, body, content_type)
    check(response, body)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert response.text == "ignored"
        assert len(fake_telegram.calls) == calls


# --- socket.io ----------------------------------------------------------------------------------
SESSION_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")  # channels/socketio.py
SESSION = "<this session>"  # replaced by the example's session id
bad_session_ids = st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2),
                            st.text(CHARS, max_size=80).filter(lambda s: not SESSION_PATTERN.fullmatch(s)))
# The widget's messages are at most a few kB; 100 kB of BMP text stays under engine.io's 1 MB limit
# even as the python client escapes it.
socket_messages = st.one_of(unicode_text, blank_text, st.just(""), boundary_text, long_text(BMP))
# Metadata holding bytes is KB7, left out here.
socket_metadata = st.one_of(json_values, json_objects, json_objects.map(json.dumps), st.text(CHARS, max_size=30))
socket_events = st.one_of(
    # not a message object: ignored
    st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.text(CHARS, max_size=50),
              st.lists(json_scalars, max_size=3), long_text(BMP, 1000, 20_000)),
    # a message that is not text: ignored
    st.fixed_dictionaries({"session_id": st.just(SESSION), "message": st.one_of(
        st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(json_scalars, max_size=3),
        json_objects, st.binary(max_size=20))}),
    # no valid session id (the channel keeps sessions): ignored
    st.fixed_dictionaries({"message": unicode_text}, optional={"session_id": bad_session_ids}),
    # a message for this session: answered, or refused politely
    st.fixed_dictionaries({"session_id": st.just(SESSION)}, optional={"message": socket_messages,
                                                                       "metadata": socket_metadata}),
)
session_request_junk = st.one_of(st.none(), st.integers(), st.text(CHARS, max_size=30), st.lists(json_scalars, max_size=2),
                                 st.fixed_dictionaries({}, optional={"session_id": bad_session_ids}))


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
        assistant, socket_loop, service, events, junk_request):
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
            return (all(got[service[name]] >= count for name, count in refused.items())
                    and len(others) >= answered and user_events(assistant, session) >= answered)

        assert eventually(settled, 30), (outcomes, texts(connection.replies))
        time.sleep(0.2)
        assert user_events(assistant, session) == answered, "lost or duplicated"
        got = collections.Counter(texts(connection.replies))
        assert all(got[service[name]] == count for name, count in refused.items()), (refused, got)
        # and a valid message on the same connection is still answered and stored
        before = len(connection.replies)
        connection.emit("user_uttered", {"message": "hello", "session_id": session})
        assert eventually(lambda: len(connection.replies) > before and user_events(assistant, session) == answered + 1,
                          30), "no reply to a valid message after the bad ones"
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
    st.tuples(st.just("4"), st.sampled_from(["0", "1", "2", "3", "4", "5", "6", "7", "9", "x", ""]), st.one_of(
        st.text(CHARS, max_size=60), json_values.map(json.dumps),
        st.tuples(st.sampled_from(["user_uttered", "session_request", "connect", "disconnect", ""]), json_values).map(
            lambda args: json.dumps(list(args))))).map("".join),
    st.tuples(st.sampled_from(["1", "3", "5", "7", "9", "b", "bAAAA", "b4", "1close"]), st.text(CHARS, max_size=20)).map("".join),
)
polling_bodies = st.one_of(
    st.lists(socketio_packets, min_size=1, max_size=4).map(lambda packets: "\x1e".join(packets).encode()),
    st.binary(max_size=500),
    unicode_text.map(str.encode),
    long_text(BMP, 1000, 100_000).map(lambda text: ("4" + text).encode()),
)
engineio_queries = st.one_of(
    st.just("?EIO=4&transport=polling&sid={sid}"),
    st.sampled_from(["?EIO=4&transport=polling", "?EIO=3&transport=polling", "?EIO=5&transport=polling",
                     "?EIO=4&transport=websocket", "?EIO=4&transport=polling&sid=nope", "?EIO=4&transport=polling&j=x",
                     "?EIO=4&transport=polling&b64=1&sid={sid}", "?EIO=4&transport=polling&j=0&sid={sid}", "",
                     "?EIO=%ff&transport=polling", "?EIO=4&transport=carrier-pigeon"]),
    queries,
)


@examples(80)
@given(body=polling_bodies, query=engineio_queries, content_type=content_types, method=st.sampled_from(["POST", "GET", "PUT"]))
def test_socketio_polling_endpoint_survives_junk(assistant, body, query, content_type, method):
    assume(not (method == "POST" and "{sid}" in query and engineio_hangs(body)))
    if "{sid}" in query:
        query = query.replace("{sid}", engineio_session(assistant))
        if method == "GET":
            method = "POST"  # a GET on an open session is a long-poll: it waits 25 s for the server's ping
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.request(method, assistant.url + "/socket.io/" + query, data=body if method != "GET" else None,
                                headers=headers, timeout=30)
    check(response, query)


# --- the action server --------------------------------------------------------------------------
ACTION_NAMES = ["action_answer_from_articles", "action_ask_to_clarify", "action_default_fallback",
                "action_start_self_check", "validate_self_check_form", "action_triage_next_steps",
                "action_self_check_summary", "action_self_check_stopped", "action_nope", "utter_greet"]
action_calls = st.fixed_dictionaries({}, optional={
    "next_action": st.one_of(st.sampled_from(ACTION_NAMES), json_values),
    "sender_id": json_values,
    "tracker": st.one_of(json_values, st.fixed_dictionaries({"sender_id": st.text(CHARS, max_size=20)}, optional={
        "slots": st.one_of(json_objects, json_values), "latest_message": st.one_of(json_objects, json_values),
        "events": st.lists(json_objects, max_size=3) | json_values, "active_loop": json_values,
        "latest_action_name": json_values})),
    "domain": st.one_of(json_values, json_objects),
    "version": st.one_of(st.sampled_from(["3.6.21", "0.0.1", "x"]), json_values),
})
action_bodies = st.one_of(action_calls.map(lambda call: json.dumps(call).encode()), json_values.map(lambda v: json.dumps(v).encode()),
                          st.binary(max_size=500), rest_json.flatmap(encodings_of), st.just(b"x" * 100_000))


def sdk_error(response: requests.Response) -> bool:
    """KB9: rasa-sdk answers any request it cannot handle with a 500 {"error": <the exception's
    text>, "request_body": ...}, a wrong path or method too."""
    try:
        data = response.json()
    except ValueError:
        return False
    return response.status_code == 500 and isinstance(data, dict) and isinstance(data.get("error"), str)


@examples(100)
@given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]),
       path=st.sampled_from(["/webhook", "/webhook", "/webhook", "/health", "/actions"]) | paths,
       body=action_bodies, content_type=content_types)
def test_action_server_survives_any_request(assistant, method, path, body, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.request(method, actions_url(assistant) + path, data=body, headers=headers, timeout=30)
    if response.status_code >= 500:
        assert sdk_error(response), (response.status_code, response.text[:300])
        assert_no_leak(response.json()["error"], body + path.encode())
    else:
        check(response, body + path.encode())
    if method == "GET" and path == "/health":
        assert response.status_code == 200 and response.json() == {"status": "ok"}


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


# --- known bugs (strict xfail: the fix makes these pass, then remove the mark) -------------------
@pytest.mark.xfail(strict=True, reason="KB1: channels/telegram.py raises on an update, message or chat that is "
                                       "not an object, a text that is not a string, or a failed sendMessage: 500")
@pytest.mark.parametrize("update", [
    [1], "update", 5, True, {"message": "hi"}, {"message": ["hi"]}, {"edited_message": 5},
    {"message": {"text": "hi", "chat": 5}}, {"message": {"text": "hi", "chat": "x"}},
    {"message": {"text": 5, "chat": {"id": 77}}}, {"message": {"text": ["hi"], "chat": {"id": 78}}},
    # the Bot API refuses to send (here: an id the fake cannot read); the turn was stored, Telegram
    # gets a 500 and delivers the update again
    {"message": {"text": "hello", "chat": {"id": "not-a-chat"}}},
], ids=repr)
def test_known_bug_telegram_update_of_the_wrong_shape_gets_a_500(assistant, update):
    response = telegram(assistant, json.dumps(update).encode())
    check(response)


@pytest.mark.xfail(strict=True, reason="KB2: channels/rest.py catches ValueError from json.loads, not the "
                                       "RecursionError of deeply nested JSON (~1000 levels, 2 kB): 500")
@pytest.mark.parametrize("nested", [b"[" * 5000 + b"]" * 5000, b'{"sender": "x", "metadata": ' + b'{"a":' * 2000 + b"1" + b"}" * 2001])
def test_known_bug_rest_deeply_nested_json_gets_a_500(assistant, nested):
    response = rest(assistant, nested)
    check(response)
    assert response.status_code == 400


@pytest.mark.xfail(strict=True, reason="KB3: a lone surrogate in the text (JSON can spell \\ud800) makes spaCy's "
                                       "tokenizer raise: the patient gets utter_unavailable and the message is lost")
def test_known_bug_lone_surrogate_in_the_text_is_lost(assistant, service):
    sender = "surrogate-text-" + uuid.uuid4().hex
    response = rest(assistant, json.dumps({"sender": sender, "message": "my knee \ud800 hurts"}).encode())
    check(response)
    assert response.status_code == 200 and response.json(), "silence"
    assert stored_once(assistant, sender) == 1, "the message was lost"
    assert service["utter_unavailable"] not in texts(response.json())


@pytest.mark.xfail(strict=True, reason="KB4: a lone surrogate in the sender id (JSON \\ud800) makes the SQL tracker "
                                       "store raise a ValueError, which rasa's SQLTrackerStore.session_scope turns into "
                                       "sys.exit: one unauthenticated request stops the Rasa server (PostgreSQL: a NUL)")
def test_known_bug_lone_surrogate_sender_stops_the_server(tmp_path):
    throwaway = Assistant(tmp_path)
    throwaway.start_rasa()  # no action server: the turn never gets that far
    try:
        try:
            response = rest(throwaway, json.dumps({"sender": "\ud800-" + uuid.uuid4().hex, "message": "hello"}).encode())
            check(response)
        except requests.ConnectionError:
            pass  # the server went away mid-request; whether it is still up is what counts
        time.sleep(1)
        assert throwaway.rasa.proc.poll() is None, "the Rasa server exited"
        assert requests.get(throwaway.url + "/", timeout=10).status_code == 200
    finally:
        throwaway.stop()


@pytest.mark.xfail(strict=True, reason="KB5: Sanic's request.form drops blank values, so the signature of a genuine "
                                       "Twilio request with an empty parameter (Body of a picture message, FromCity...) "
                                       "does not match: 403, the patient is never answered")
@pytest.mark.parametrize("params", [{"Body": ""}, {"Body": "hello", "FromCity": ""}, {"Body": "", "NumMedia": "1",
                                                                                       "MediaUrl0": "https://x/y.jpg"}],
                         ids=["empty Body", "empty FromCity", "picture only"])
def test_known_bug_twilio_request_with_a_blank_parameter_is_refused(assistant, params):
    response = signed_twilio(assistant, {"From": new_phone(), "To": "+15550100", **params})
    check(response)
    assert response.status_code == 200 and twiml_messages(response)


@pytest.mark.xfail(strict=True, reason="KB6: channels/socketio.py's handle_message(sid, data) raises TypeError "
                                       "inside the server for an event with two or more arguments")
def test_known_bug_socketio_event_with_two_arguments_raises_in_the_server(assistant, socket_loop):
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", ({"message": "hello", "session_id": session}, "extra"))
        connection.emit("user_uttered", {"message": "hello", "session_id": session})
        assert eventually(lambda: connection.replies, 30)
    assert not eventually(lambda: "handle_message() takes" in assistant.rasa.log(), 3), \
        "the channel's handler raised TypeError in the server"


@pytest.mark.xfail(strict=True, reason="KB7: socket.io metadata holding binary (bytes) is passed on: the tracker "
                                       "cannot be serialised, rasa falls back to an in-memory store, the message is "
                                       "answered but never stored")
def test_known_bug_socketio_binary_metadata_loses_the_message(assistant, socket_loop):
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", {"message": "hello", "session_id": session, "metadata": {"x": b"\x00\x01"}})
        assert eventually(lambda: connection.replies, 30), "silence"
    assert stored_once(assistant, session) == 1, "the message was lost"


@pytest.mark.xfail(strict=True, reason="KB8 (python-engineio 4.15): a POST to a closed long-polling session gets a "
                                       "500 (KeyError 'Session is disconnected'); a POST of an OPEN, PING or NOOP "
                                       "packet, or of more than 1 MB, hangs until Sanic's 60 s response timeout (503)")
@pytest.mark.parametrize("first, then", [(b"1", b"40"), (None, b"6")], ids=["after close", "noop hangs"])
def test_known_bug_engineio_long_polling(assistant, first, then):
    url = assistant.url + f"/socket.io/?EIO=4&transport=polling&sid={engineio_session(assistant)}"
    if first is not None:
        assert requests.post(url, data=first, timeout=10).status_code == 200
    response = requests.post(url, data=then, timeout=3)  # ReadTimeout while it hangs
    check(response)


@pytest.mark.xfail(strict=True, reason="KB9 (rasa-sdk 3.6.2): the action server answers a malformed action call, "
                                       "an unknown path or a wrong method with a 500 that quotes the exception")
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/webhook", b"[]"), ("POST", "/webhook", b'"x"'),
    ("POST", "/webhook", b'{"next_action": "action_answer_from_articles", "tracker": null}'),
    ("POST", "/webhook", b'{"next_action": "action_answer_from_articles", "tracker": {}}'),
    ("POST", "/webhook", b'{"next_action": "action_answer_from_articles", "version": 5}'),
    ("GET", "/nope", b""), ("POST", "/health", b""),
], ids=repr)
def test_known_bug_action_server_answers_bad_requests_with_a_500(assistant, method, path, body):
    response = requests.request(method, actions_url(assistant) + path, data=body,
                                headers={"Content-Type": "application/json"}, timeout=30)
    check(response, body)


@pytest.mark.xfail(strict=True, reason="KB10 (Sanic 21.12, pinned by rasa 3.6): an error page (404, 405, a 400 for "
                                       "JSON it cannot parse...) for a request with a malformed Accept header "
                                       "(\"*\", \"json\") fails to render: 500 'An error occurred while handling an error'")
@pytest.mark.parametrize("accept", ["*", "json", "\x7f"])
@pytest.mark.parametrize("method, path, body", [("GET", "/nope", b""), ("GET", "/webhooks/rest/webhook", b""),
                                               ("POST", "/webhooks/telegram/webhook", b"{bad")],
                         ids=["404", "405", "400"])
def test_known_bug_error_page_for_a_malformed_accept_header_is_a_500(assistant, accept, method, path, body):
    response = requests.request(method, assistant.url + path, data=body, headers={"Accept": accept}, timeout=30)
    check(response)


# --- afterwards ---------------------------------------------------------------------------------
def test_both_servers_still_answer_on_every_channel_after_the_bad_input(assistant, fake_telegram, socket_loop):
    assert assistant.rasa.proc.poll() is None and assistant.actions.proc.poll() is None
    status = requests.get(assistant.url + "/", timeout=10)
    assert status.status_code == 200 and status.text.startswith("Hello from Rasa")
    assert requests.get(actions_url(assistant) + "/health", timeout=10).json() == {"status": "ok"}
    question = "How much does stem cell therapy cost?"
    answer = texts(assistant.say("after-" + uuid.uuid4().hex, question))  # the article answer: a custom action
    assert "$5000" in "\n".join(answer)
    sms = signed_twilio(assistant, {"From": new_phone(), "To": "+15550100", "Body": question})
    assert sms.status_code == 200 and "$5000" in twiml_messages(sms)[0]
    chat_id = next(CHAT_IDS)
    assert telegram(assistant, json.dumps(telegram_update(chat_id, question)).encode()).text == "ok"
    assert "$5000" in fake_telegram.sent_to(chat_id)[0]
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", {"message": question, "session_id": session})
        assert eventually(lambda: "$5000" in "\n".join(texts(connection.replies)), 30)


# What the servers log with a traceback for the requests above, though the client sees a clean
# answer: the libraries log the junk they reject. Anything else fails the test below.
LOGGED_BY_LIBRARIES = [
    ("rasa", "Sanic: a form it cannot parse (Twilio junk; the client gets 403)", r'sanic/request\.py", line \d+, in form'),
    ("rasa", "python-engineio: a junk long-polling payload (the client gets 200 or 400)",
     r"engineio/(async_server|async_socket|payload|packet)\.py"),
    ("rasa", "python-socketio: a junk socket.io packet (ignored)", r"socketio/(async_server|packet)\.py|engineio/json\.py"),
    ("actions", "rasa-sdk: a malformed action call (KB9)", r"rasa_sdk/endpoint\.py"),
    ("actions", "rasa-sdk: an unknown path or a wrong method (KB9)", r"sanic/router\.py|sanic_routing/router\.py"),
]
KNOWN_BUGS = [
    ("rasa", "KB1 Telegram update of the wrong shape", r'channels/telegram\.py", line \d+, in receive'),
    ("rasa", "KB1 Telegram: the Bot API call failed", r"aiogram/bot/api\.py|aiohttp/(client|streams|client_reqrep)\.py"),
    ("rasa", "KB2 REST: deeply nested JSON", r"RecursionError: maximum recursion depth exceeded while decoding"),
    ("rasa", "KB6 socket.io event with two arguments", r"handle_message\(\) takes from 1 to 2 positional arguments"),
    ("rasa", "KB8 engine.io: POST to a closed session", r"KeyError: 'Session is disconnected'"),
]
OUR_CODE = re.compile(r'File "' + re.escape(str(ROOT)) + r'/(?!\.venv/)')


def tracebacks(log: str) -> List[str]:
    """Each traceback in a log (each part of a chained one), with the two lines before it."""
    lines = log.splitlines()
    found = []
    for start, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            end = start + 1
            while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
                end += 1
            found.append("\n".join(lines[max(0, start - 2):end + 1]))
    return found


def classify(log_name: str, traceback: str) -> Optional[str]:
    """The known kind of a logged traceback, or None. One through the project's own code is only
    ever a known bug."""
    kinds = KNOWN_BUGS + ([] if OUR_CODE.search(traceback) else LOGGED_BY_LIBRARIES)
    return next((kind for log, kind, pattern in kinds if log == log_name and re.search(pattern, traceback)), None)


def test_the_servers_log_no_traceback_but_the_known_ones(assistant):
    seen: Dict[str, int] = collections.Counter()
    unknown = []
    for name, log in (("rasa", assistant.rasa.log()), ("actions", assistant.actions.log())):
        for traceback in tracebacks(log):
            kind = classify(name, traceback)
            if kind:
                seen[f"{name}.log: {kind}"] += 1
            else:
                unknown.append(f"--- {name}.log\n{traceback}")
    print("\nTracebacks in the server logs, by kind:\n" + "\n".join(f"  {n:4d}  {k}" for k, n in sorted(seen.items())))
    assert not unknown, "unexpected tracebacks in the server logs:\n" + "\n".join(unknown[:10])
