"""The simulated patients: REST and socket.io traffic drivers."""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import re
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp

from channels.guard import REFUSALS
from harness.patients import NOTHING_WRONG, Patient, asked
from scripts.load_test.records import (
    Conversation,
    Message,
    reply_token,
    service_reply,
)
from scripts.load_test.store import (
    Store,
    turn_in_rows,
)

# A patient told the assistant is busy sends the same message again after this many seconds, up to
# MAX_SENDS times in all.
RESEND_AFTER_S = (0.5, 1.5)
MAX_SENDS = 20


async def converse(
    patient: Patient,
    conversation: Conversation,
    send: Callable[[Message], Awaitable[List[Dict[str, Any]]]],
    think: float,
) -> None:
    """The script of harness/patients.py (Patient.turns), asynchronously: opening messages, the
    self-check answered "nothing wrong" to each question, closing messages. Stops at a transport error
    (a patient whose message got no answer does not carry on as if it had)."""
    replies: Optional[List[Dict[str, Any]]] = []

    async def turn(text: str) -> Optional[List[Dict[str, Any]]]:
        if conversation.messages and think:
            await asyncio.sleep(think)
        for _ in range(MAX_SENDS):
            message = Message(len(conversation.messages), text)
            conversation.messages.append(message)
            got = await send(message)
            if message.error or not message.busy:
                return None if message.error else got
            # "Busy, send it again in a moment": as a patient would, a second or so later.
            await asyncio.sleep(random.uniform(*RESEND_AFTER_S))
        conversation.gave_up = True  # MAX_SENDS busy replies in a row: the patient leaves
        return None

    def turns_taken() -> int:  # a message sent again after "busy" is the same turn
        return sum(1 for message in conversation.messages if not message.busy)

    for text in patient.opening:
        replies = await turn(text)
        if replies is None:
            return
    if patient.self_check:
        while (question := asked(replies or [])) and turns_taken() < patient.max_turns:
            replies = await turn(NOTHING_WRONG[question])
            if replies is None:
                return
    for text in patient.closing:
        if await turn(text) is None:
            return


def busy_reply(body: bytes) -> bool:
    try:
        replies = json.loads(body)
    except ValueError:
        return False
    return isinstance(replies, list) and bool(replies) and all(isinstance(r, dict) and r.get("busy") for r in replies)


def note_replies(message: Message, replies: List[Dict[str, Any]]) -> None:
    message.replies = [reply_token(reply) for reply in replies]
    message.empty = not replies
    services = [service_reply(token) for token in message.replies]
    message.service = next((s for s in services if s), None)


async def run_rest(url: str, conversations: List[Tuple[Patient, Conversation]], think: float, timeout: float) -> None:
    endpoint = url + "/webhooks/rest/webhook"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:

        async def one(patient: Patient, conversation: Conversation) -> None:
            async def send(message: Message) -> List[Dict[str, Any]]:
                body = {
                    "sender": conversation.sender,
                    "message": message.text,
                    "metadata": {"patient": conversation.pid, "turn": message.turn},
                }
                message.sent_at = time.time()
                started = time.perf_counter()
                try:
                    async with session.post(endpoint, json=body) as response:
                        raw = await response.read()
                        # A 503 may be nginx's own busy reply (every instance at max_conns): busy, not an error.
                        if response.status != 200 and not (response.status == 503 and busy_reply(raw)):
                            message.error = f"http_{response.status}"
                            return []
                        replies: List[Dict[str, Any]] = json.loads(raw)
                except asyncio.TimeoutError:
                    message.error = "timeout"
                    return []
                except (aiohttp.ClientError, ValueError, OSError):
                    message.error = "connection"
                    return []
                message.first_ms = message.last_ms = message.done_ms = (time.perf_counter() - started) * 1000
                note_replies(message, replies)
                return replies

            await converse(patient, conversation, send, think)

        await asyncio.gather(*(one(p, c) for p, c in conversations))


class _Reasons(logging.Handler):
    """Counts why python-engineio clients gave up on their connection (its warnings: "...aborting")."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[re.sub(r"sid=[\w-]+|knee_session=[\w-]+", "…", record.getMessage())[:120]] += 1


TRANSPORT_REASONS = _Reasons()
ENGINEIO_LOG = logging.getLogger("load_test.engineio")
ENGINEIO_LOG.setLevel(logging.WARNING)
ENGINEIO_LOG.propagate = False
ENGINEIO_LOG.addHandler(TRANSPORT_REASONS)


# python-engineio 4.15's asyncio client opens its WebSocket with aiohttp.ClientWSTimeout (aiohttp 3.10 on);
# Rasa 3.6 pins aiohttp 3.9, whose ws_connect takes the same close timeout as a number. This process
# only generates load: the shim changes nothing in the servers.
if not hasattr(aiohttp, "ClientWSTimeout"):
    aiohttp.ClientWSTimeout = lambda ws_close=None, ws_receive=None: ws_close


class SocketPatient:
    """One socket.io client (long polling, or WebSocket from the start), one conversation."""

    def __init__(
        self,
        url: str,
        conversation: Conversation,
        persistent: bool,
        channel_store: Store,
        timeout: float,
        quiet: float,
        settle: float,
        http: aiohttp.ClientSession,
        transport: str = "polling",
    ) -> None:
        import socketio

        self.transport = transport
        self.url = url
        self.conversation = conversation
        self.persistent = persistent
        self.store = channel_store
        self.timeout, self.quiet, self.settle = timeout, quiet, settle
        # request_timeout: python-engineio gives up on a polling POST after 5 s by default and drops the
        # connection (a browser's engine.io client waits); here a message may wait `timeout` seconds.
        self.client = socketio.AsyncClient(
            reconnection=False, http_session=http, request_timeout=timeout, engineio_logger=ENGINEIO_LOG
        )
        self.replies: "asyncio.Queue[Tuple[float, Optional[Dict[str, Any]]]]" = asyncio.Queue()
        self.confirmed = asyncio.Event()
        self.session_id = conversation.pid
        self.closing = False

        @self.client.on("disconnect")
        async def disconnected(*_: Any) -> None:
            if not self.closing:  # dropped by the server or the transport, mid-conversation
                conversation.dropped = True
                self.replies.put_nowait((time.perf_counter(), None))

        @self.client.on("session_confirm")
        async def confirm(*_: Any) -> None:
            self.confirmed.set()

        @self.client.on("bot_uttered")
        async def uttered(data: Any = None, *_: Any) -> None:
            self.replies.put_nowait((time.perf_counter(), data if isinstance(data, dict) else {}))

    async def connect(self) -> None:
        await self.client.connect(
            f"{self.url}?knee_session={self.session_id}",
            transports=[self.transport],
            socketio_path="socket.io",
            wait_timeout=self.timeout,
        )
        await self.client.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(self.confirmed.wait(), self.timeout)
        self.conversation.sender = self.session_id if self.persistent else self.client.get_sid("/")

    async def disconnect(self) -> None:
        self.closing = True
        try:
            await asyncio.wait_for(self.client.disconnect(), 10)
        except Exception:
            pass

    async def send(self, message: Message) -> List[Dict[str, Any]]:
        conversation = self.conversation
        while not self.replies.empty():  # a reply that came after its turn was over
            if self.replies.get_nowait()[1] is not None:
                conversation.stray += 1
        if conversation.dropped:
            message.error = "disconnected"
            return []
        message.sent_at = time.time()
        started = time.perf_counter()
        deadline = started + self.timeout
        try:
            await self.client.emit(
                "user_uttered",
                {
                    "message": message.text,
                    "session_id": self.session_id,
                    "metadata": {"patient": conversation.pid, "turn": message.turn},
                },
            )
            arrived, first = await asyncio.wait_for(self.replies.get(), self.timeout)
        except asyncio.TimeoutError:
            message.error = "timeout"
            return []
        except Exception:
            message.error = "disconnected" if conversation.dropped else "connection"
            return []
        if first is None:
            message.error = "disconnected"
            return []
        replies, last = [first], arrived
        message.first_ms = (arrived - started) * 1000
        while True:
            try:
                arrived, reply = await asyncio.wait_for(self.replies.get(), self.quiet)
                if reply is None:
                    message.error = "disconnected"
                    break
                last = arrived
                replies.append(reply)
                continue
            except asyncio.TimeoutError:
                pass
            tokens = [reply_token(reply) for reply in replies]
            if any(service_reply(token) in REFUSALS for token in tokens):
                break  # refused before the dialogue: nothing is stored
            rows = await self.store.aquery(
                "SELECT id, data FROM events WHERE sender_id = %s AND id > %s ORDER BY id",
                conversation.sender,
                conversation.last_id,
            )
            complete, stored, last_id = turn_in_rows(rows, conversation.pid, message.turn, "socketio")
            ours = [token for token in tokens if not service_reply(token)]
            if complete and len(ours) >= len(stored):
                conversation.last_id = last_id
                break
            now = time.perf_counter()
            if now - last > self.settle or now > deadline:
                message.error = "unconfirmed"  # replies stopped, but the store does not hold the turn
                break
        message.last_ms = (last - started) * 1000
        message.done_ms = (time.perf_counter() - started) * 1000
        note_replies(message, replies)
        return replies


async def run_socketio(
    url: str,
    conversations: List[Tuple[Patient, Conversation]],
    persistent: bool,
    store: Store,
    think: float,
    timeout: float,
    quiet: float,
    settle: float,
    transport: str = "polling",
) -> Tuple[float, float]:
    """Connect every patient, then start all conversations together: (seconds to connect, to talk)."""
    # One HTTP session for all clients (engine.io would open, and never close, one per client).
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())
    clients = [
        SocketPatient(url, conversation, persistent, store, timeout, quiet, settle, session, transport)
        for _, conversation in conversations
    ]
    gate = asyncio.Semaphore(25)

    async def connect(client: SocketPatient) -> None:
        async with gate:
            try:
                await client.connect()
            except Exception as error:
                client.conversation.failed = f"connect: {type(error).__name__}"

    try:
        started = time.perf_counter()
        await asyncio.gather(*(connect(client) for client in clients))
        connect_s = time.perf_counter() - started
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(
                    converse(patient, client.conversation, client.send, think)
                    for (patient, _), client in zip(conversations, clients)
                    if not client.conversation.failed
                )
            )
            talk_s = time.perf_counter() - started
        finally:
            await asyncio.gather(*(client.disconnect() for client in clients))
    finally:
        await session.close()
    return connect_s, talk_s
