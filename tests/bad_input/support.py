"""Oracles, checks and clients shared by the bad-input tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import re
import sqlite3
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any, Callable, Dict, Iterable, List, Optional

import requests
from twilio.request_validator import RequestValidator

from harness.servers import ROOT, Assistant
from tests.bad_input.strategies import (
    AUTH_TOKEN,
    MAX_CHARS,
    RATE_LIMIT,
)
from tests.fake_telegram import FakeBotAPI

# --- oracles and checks -------------------------------------------------------------------------
LEAK = re.compile(
    r'Traceback|File "|Exception|\w\.py\b|site-packages|/usr/lib/python|' + re.escape(str(ROOT)) + "|"
    r"\b(?:rasa|rasa_sdk|sanic|sanic_routing|channels|stores|privacy|actions|engineio|socketio|"
    r"aiogram|aiohttp|sqlalchemy|spacy|asyncio|uvloop)\.[a-z_]+"
)


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
        return db.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)
        ).fetchone()[0]


def stored_once(assistant: Assistant, sender: str, late: bool = False) -> int:
    """The sender's user events: stored before the reply went out, or, when the turn passed the
    guard's deadline (the reply was utter_unavailable), once it is done. Then a moment more, for a
    duplicate."""
    eventually(lambda: user_events(assistant, sender) >= 1, timeout=20 if late else 2)
    time.sleep(0.05)
    return user_events(assistant, sender)


def texts(replies: Iterable[Dict]) -> List[str]:
    return [reply.get("text") or "" for reply in replies]


# --- servers and clients ------------------------------------------------------------------------


def channel_env(fake_telegram: FakeBotAPI) -> Dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": "ACtest",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_NUMBER": "+15550100",
        "TELEGRAM_TOKEN": "123456:TEST",
        "TELEGRAM_WEBHOOK_URL": "https://clinic.example/webhooks/telegram/webhook",
        "TELEGRAM_API_URL": fake_telegram.url,
        "RATE_LIMIT": RATE_LIMIT,
    }


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
        # Engine.io's CLOSE, without waiting for the pending long-poll GET to return (the server lets
        # it wait out its 25 s ping interval): closing the HTTP session ends it at once.
        if self.client.connected:
            self.loop.run(self.client.eio.disconnect(abort=True))


@contextlib.contextmanager
def socket_connection(loop: SocketLoop, assistant: Assistant):
    connection = SocketConnection(loop, assistant.url)
    try:
        yield connection
    finally:
        connection.close()


def rest(assistant: Assistant, body: bytes, content_type: Optional[str] = "application/json") -> requests.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return requests.post(assistant.url + "/webhooks/rest/webhook", data=body, headers=headers, timeout=60)


def twilio_url(assistant: Assistant) -> str:
    return assistant.url + "/webhooks/twilio/webhook"


def signed_twilio(assistant: Assistant, params: Dict[str, str]) -> requests.Response:
    url = twilio_url(assistant)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60)


@functools.lru_cache(maxsize=None)
def _twilio_channel():
    from channels.twilio import TwilioChannel

    return TwilioChannel(AUTH_TOKEN, "+15550100")


def twilio_conversation(sender: str) -> str:
    """The conversation id a Twilio sender is stored under (a keyed hash of the number)."""
    return _twilio_channel().conversation_id(sender)


def twiml_messages(response: requests.Response) -> List[str]:
    return [message.text or "" for message in ElementTree.fromstring(response.text).iter("Message")]


def new_phone() -> str:
    return "+1555" + str(uuid.uuid4().int)[:10]


CHAT_IDS = itertools.count(7_000_000_001)


def telegram_secret(fake_telegram: FakeBotAPI) -> str:
    """The secret token the channel registered with setWebhook, which Telegram sends back."""
    assert eventually(lambda: any(c["method"] == "setWebhook" for c in fake_telegram.calls), 30), "no setWebhook"
    return next(c["params"]["secret_token"] for c in fake_telegram.calls if c["method"] == "setWebhook")


def sent_to(fake_telegram: FakeBotAPI, chat_id: Any) -> List[str]:
    """What the Bot API was asked to send to a chat (FakeBotAPI.sent_to, for any chat id, even one
    that is not a number)."""
    return [
        call["params"].get("text", "")
        for call in list(fake_telegram.calls)
        if call["method"] == "sendMessage" and str(call["params"].get("chat_id")) == str(chat_id)
    ]


def telegram(
    assistant: Assistant,
    body: bytes,
    secret: Optional[str],
    content_type: Optional[str] = "application/json",
) -> requests.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return requests.post(assistant.url + "/webhooks/telegram/webhook", data=body, headers=headers, timeout=60)


def telegram_update(chat_id: Any, text: Any, key: str = "message", **extra: Any) -> Dict[str, Any]:
    return {
        "update_id": 1,
        key: {
            "message_id": 1,
            "date": 0,
            "text": text,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"},
            **extra,
        },
    }


def engineio_session(assistant: Assistant) -> str:
    opened = requests.get(assistant.url + "/socket.io/?EIO=4&transport=polling", timeout=10)
    assert opened.status_code == 200 and opened.text.startswith("0"), opened.text[:200]
    return json.loads(opened.text[1:])["sid"]


def actions_url(assistant: Assistant) -> str:
    return f"http://127.0.0.1:{assistant.actions_port}"


class LateTurns:
    """The answered turns of a property test that got the guard's "technical problem" reply instead of
    an answer. Now and then that is the deadline doing its job on a loaded machine; if most turns got
    it, the assistant was hanging, and the test must fail however each turn looked on its own."""

    MAX_SHARE = 0.1

    def __init__(self) -> None:
        self.answered = 0
        self.late = 0

    def note(self, late: bool) -> None:
        self.answered += 1
        self.late += int(late)

    def check(self) -> None:
        assert self.answered >= 1, "no example was answered: nothing to judge"
        allowed = max(1, int(self.answered * self.MAX_SHARE))
        assert self.late <= allowed, f"{self.late} of {self.answered} answered turns hit the deadline"
