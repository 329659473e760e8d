"""Load test: N simulated patients talking to the assistant at once, and a check of what was stored.

What it measures. For each bot (this knee assistant, and the stock `rasa init` bot for comparison), each
setup (1 Rasa instance, or 2 instances sharing PostgreSQL and Redis), each channel (REST, socket.io)
and each number of patients N (50, 200): N simulated patients, all at once, each one multi-turn
conversation sent as fast as the replies come (a closed loop; `--think` adds a pause between a reply
and the next message). The knee patients are the scripted conversations of tests/patients.py (the
full self-check answered with its buttons' payloads, an emergency in the middle of the self-check,
questions only), the stock patients three conversations from the stock bot's own stories and rules.
Both setups run behind nginx (deploy/nginx/knee-assistant.conf.template) with one or two upstreams,
each bot on a fresh cluster of its own (tests/services.py: PostgreSQL, Redis, nginx, Rasa servers),
started once per bot and setup and reused for both channels and both N.

Reported per run: messages, wall time, throughput (answered messages per second), latency p50/p95/p99
per message, errors (HTTP errors, timeouts, connection failures, turns with no reply, the knee guard's
service replies: empty / too long / slow down / unavailable) and the storage check. Latency:
  * REST: request sent -> response received (the response holds the whole turn).
  * socket.io: message emitted -> FIRST bot_uttered, and -> LAST bot_uttered of the turn. A socket.io
    turn has no end marker (1..n bot_uttered events), so the client waits until no reply has come for
    `--quiet` seconds and then asks PostgreSQL whether the turn is stored (Rasa saves a turn after
    sending all its replies): once the turn's user event and its closing action_listen are stored and
    the client holds as many replies as were stored, the turn is over and the next message goes
    out. "Last reply" is the arrival of the last reply, not the end of the quiet window. (Quiet time
    alone would cut slow turns in two under load.) The quiet window and the look-up sit between the
    turns of one patient, so socket.io offers less load than REST: compare latencies, not msg/s.
Storage check, after each run, for every conversation, from the events PostgreSQL holds: every message
sent (metadata {"patient": id, "turn": n} on each) is stored once, in the order sent, with its text
(the knee bot stores it redacted: compared with privacy.redaction.redact of what was sent) and its
metadata; no user event of another patient in the conversation and none of ours under another
conversation; every turn ends with action_listen before the next user event; and the bot replies
stored for each turn are the ones the client received (compared message by message, after Rasa's
split of a text on blank lines; the guard's own replies are not stored and are left out).

Setup notes (also in the report):
  * The knee servers run with RATE_LIMIT="100000/60": the default per-patient limit (30/60;10/5) is
    for people, and patients that answer instantly would hit it.
  * The stock bot: its project is copied from Rasa's `rasa init` template and trained once per run with
    a cold cache (or `--stock-model` reuses a model). Its endpoints.yml gets Rasa's own SQL tracker
    store (the same PostgreSQL) and RedisLockStore (the same Redis); its credentials.yml gets the
    socketio channel with session_persistence: false, because stock Rasa 3.6's socketio channel never
    awaits `enter_room` (a coroutine in python-socketio 5.18), so a persistent session gets no reply;
    its conversation id is then the socket's sid. Its action server runs (the Cluster starts one per
    instance) but is idle: the stock endpoints.yml names none.
  * socket.io clients use long polling only and add `knee_session=<id>` to the URL, so nginx spreads
    them over the instances (the stock clients too: nginx only hashes the query, stock Rasa ignores it).

Usage:  .venv/bin/python -m scripts.load_test [--patients 50 200] [--channels rest socketio]
            [--setups 1 2] [--bots knee stock] [--think 0] [--stock-model PATH] [--timeout 120]
            [--env SANIC_BACKLOG=1024 ...]   (extra environment for both bots' Rasa servers)
Defaults are the whole matrix (about 20-30 minutes on 2 cores). Writes reports/load_test.json and
reports/load_test.md. This is a measurement: it asserts nothing about speed. It exits 1 when the
storage check finds a knee-assistant message lost, duplicated, out of order, altered, attributed to
another patient, or a turn left incomplete (2 when a cluster could not be run, 130 on Ctrl-C).
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import logging
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import aiohttp

from scripts.benchmark import percentile, rss_mib, stock_project
from tests.patients import NOTHING_WRONG, PATIENTS, SERVICE_TEXTS, Patient, asked
from tests.servers import MODEL, RASA, ROOT
from tests.services import Cluster

KNEE_ENV = {"RATE_LIMIT": "100000/60"}
# The stock bot's conversations, from its own training data (data/stories.yml, rules.yml, nlu.yml).
STOCK_PATIENTS = [
    Patient("stock_happy", ["hello there", "I am feeling great", "are you a bot?", "good morning",
                            "amazing", "bye"]),
    Patient("stock_sad_helped", ["hi", "I am sad", "yes", "are you a bot?", "hey", "goodbye"]),
    Patient("stock_sad_not_helped", ["hey", "my day was horrible", "no", "am I talking to a bot?",
                                     "good evening", "see you later"]),
]
KNEE_PATIENTS = list(PATIENTS.values())
# The guard's replies, recognised by their first words (the rest is filled in from slots).
SERVICE_PREFIXES = {name: text.split("{")[0] for name, text in SERVICE_TEXTS.items()}
STORAGE_VIOLATIONS = ("lost", "duplicated", "misordered", "altered", "misattributed", "incomplete_turn")
MEDIA = "[media]"


def service_reply(text: str) -> Optional[str]:
    return next((name for name, prefix in SERVICE_PREFIXES.items() if prefix and text.startswith(prefix)), None)


def reply_token(reply: Dict[str, Any]) -> str:
    """A reply as the client got it: its text, or MEDIA for an image, attachment or custom payload."""
    text = reply.get("text")
    return text if isinstance(text, str) and text else MEDIA


def stored_tokens(event: Dict[str, Any], channel: str) -> List[str]:
    """The messages a stored bot event reached the client as: Rasa's output channels split a text on
    blank lines (REST not when it has buttons) and send images, attachments and custom payloads apart."""
    data = event.get("data") or {}
    text = event.get("text")
    tokens: List[str] = []
    if text:
        if channel == "rest" and (data.get("buttons") or data.get("quick_replies")):
            tokens.append(text)
        else:
            tokens += text.strip().split("\n\n")
    # As BotUttered.message() rebuilds it: Rasa copies an image into `attachment` and drops the copy.
    attachment = data.get("attachment") if data.get("attachment") != data.get("image") else None
    tokens += [MEDIA for value in (data.get("custom"), data.get("image"), attachment) if value]
    tokens += [MEDIA] * len(data.get("elements") or [])
    return tokens


def is_listen(event: Dict[str, Any]) -> bool:
    return event.get("event") == "action" and event.get("name") == "action_listen"


# --- what happened in a run ---------------------------------------------------------------------------

@dataclass
class Message:
    turn: int
    text: str
    first_ms: Optional[float] = None   # sent -> first reply (REST: the response)
    last_ms: Optional[float] = None    # sent -> last reply of the turn
    done_ms: Optional[float] = None    # sent -> the client knew the turn was over
    replies: List[str] = field(default_factory=list)
    error: Optional[str] = None        # transport: http_NNN, timeout, connection, disconnected, unconfirmed
    service: Optional[str] = None      # a guard reply among the replies
    empty: bool = False
    sent_at: float = 0.0               # wall clock (time.time) when sent, to compare with stored timestamps
    to_user_event_ms: Optional[float] = None   # sent -> the stored user event's timestamp
    dialogue_ms: Optional[float] = None        # the user event -> the turn's action_listen (stored timestamps)

    @property
    def refused(self) -> bool:
        """Refused before the dialogue (not stored): the guard's refusals other than 'unavailable'."""
        return self.service in ("utter_empty_message", "utter_message_too_long", "utter_slow_down")


@dataclass
class Conversation:
    pid: str
    script: str
    sender: Optional[str] = None
    messages: List[Message] = field(default_factory=list)
    stray: int = 0                      # socket.io replies that came between turns
    dropped: bool = False               # socket.io: the connection was lost mid-conversation
    failed: Optional[str] = None        # the conversation could not start (socket.io connect)
    last_id: int = 0                    # socket.io: last stored event seen (turn confirmation)


# --- PostgreSQL, read by the load generator ---------------------------------------------------------------

class Store:
    """Reads of the events table from a few threads (psycopg2 is blocking), one connection each."""

    def __init__(self, url: str, workers: int = 4) -> None:
        self.url = url
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="store")
        self.local = threading.local()
        self.connections: List[Any] = []
        self.lock = threading.Lock()

    def _cursor(self):
        import psycopg2

        connection = getattr(self.local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg2.connect(self.url)
            connection.autocommit = True
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        return connection.cursor()

    def query(self, sql: str, *params) -> list:
        with self._cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    async def aquery(self, sql: str, *params) -> list:
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: self.query(sql, *params))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for connection in self.connections:
            try:
                connection.close()
            except Exception:
                pass

    def settle(self, limit: float = 60.0, still: float = 2.0) -> float:
        """Wait until nothing more is written (turns that outlived their client finish); seconds waited."""
        started = time.monotonic()
        last, since = None, time.monotonic()
        while time.monotonic() - started < limit:
            now = self.query("SELECT count(*), coalesce(max(id), 0) FROM events")[0]
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                break
            time.sleep(0.25)
        return time.monotonic() - started


def turn_in_rows(rows: List[Tuple[int, str]], pid: str, turn: int, channel: str
                 ) -> Tuple[bool, List[str], int]:
    """From a conversation's events (id, json) after the previous turn: whether this turn is stored
    whole (its user event, then events up to an action_listen), its replies, and its last event's id."""
    started, segment, last_id = False, [], 0
    for row_id, data in rows:
        event = json.loads(data)
        if event.get("event") == "user":
            if started:
                break
            metadata = event.get("metadata") or {}
            started = metadata.get("patient") == pid and metadata.get("turn") == turn
            last_id = row_id if started else last_id
            continue
        if started:
            segment.append(event)
            last_id = row_id
    complete = started and bool(segment) and is_listen(segment[-1])
    tokens = [token for event in segment if event.get("event") == "bot" for token in stored_tokens(event, channel)]
    return complete, tokens, last_id


# --- the patients ----------------------------------------------------------------------------------------

async def converse(patient: Patient, conversation: Conversation,
                   send: Callable[[Message], "asyncio.Future[List[Dict[str, Any]]]"], think: float) -> None:
    """The script of tests/patients.py (Patient.turns), asynchronously: opening messages, the
    self-check answered "nothing wrong" to each question, closing messages. Stops at a transport error
    (a patient whose message got no answer does not carry on as if it had)."""
    replies: List[Dict[str, Any]] = []

    async def turn(text: str) -> Optional[List[Dict[str, Any]]]:
        if conversation.messages and think:
            await asyncio.sleep(think)
        message = Message(len(conversation.messages), text)
        conversation.messages.append(message)
        got = await send(message)
        return None if message.error else got

    for text in patient.opening:
        replies = await turn(text)
        if replies is None:
            return
    if patient.self_check:
        while asked(replies) and len(conversation.messages) < patient.max_turns:
            replies = await turn(NOTHING_WRONG[asked(replies)])
            if replies is None:
                return
    for text in patient.closing:
        if await turn(text) is None:
            return


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
                body = {"sender": conversation.sender, "message": message.text,
                        "metadata": {"patient": conversation.pid, "turn": message.turn}}
                message.sent_at = time.time()
                started = time.perf_counter()
                try:
                    async with session.post(endpoint, json=body) as response:
                        raw = await response.read()
                        if response.status != 200:
                            message.error = f"http_{response.status}"
                            return []
                        replies = json.loads(raw)
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


class SocketPatient:
    """One socket.io client (long polling), one conversation."""

    def __init__(self, url: str, conversation: Conversation, persistent: bool, channel_store: Store,
                 timeout: float, quiet: float, settle: float, http: aiohttp.ClientSession) -> None:
        import socketio

        self.url = url
        self.conversation = conversation
        self.persistent = persistent
        self.store = channel_store
        self.timeout, self.quiet, self.settle = timeout, quiet, settle
        # request_timeout: python-engineio gives up on a polling POST after 5 s by default and drops the
        # connection (a browser's engine.io client waits); here a message may wait `timeout` seconds.
        self.client = socketio.AsyncClient(reconnection=False, http_session=http, request_timeout=timeout,
                                           engineio_logger=ENGINEIO_LOG)
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
        await self.client.connect(f"{self.url}?knee_session={self.session_id}", transports=["polling"],
                                  socketio_path="socket.io", wait_timeout=self.timeout)
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
            await self.client.emit("user_uttered", {"message": message.text, "session_id": self.session_id,
                                                    "metadata": {"patient": conversation.pid, "turn": message.turn}})
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
            if any(service_reply(token) in ("utter_empty_message", "utter_message_too_long", "utter_slow_down")
                   for token in tokens):
                break  # refused before the dialogue: nothing is stored
            rows = await self.store.aquery("SELECT id, data FROM events WHERE sender_id = %s AND id > %s ORDER BY id",
                                           conversation.sender, conversation.last_id)
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


async def run_socketio(url: str, conversations: List[Tuple[Patient, Conversation]], persistent: bool,
                       store: Store, think: float, timeout: float, quiet: float, settle: float
                       ) -> Tuple[float, float]:
    """Connect every patient, then start all conversations together: (seconds to connect, to talk)."""
    # One HTTP session for all clients (engine.io would open, and never close, one per client).
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())
    clients = [SocketPatient(url, conversation, persistent, store, timeout, quiet, settle, session)
               for _, conversation in conversations]
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
            await asyncio.gather(*(converse(patient, client.conversation, client.send, think)
                                   for (patient, _), client in zip(conversations, clients)
                                   if not client.conversation.failed))
            talk_s = time.perf_counter() - started
        finally:
            await asyncio.gather(*(client.disconnect() for client in clients))
    finally:
        await session.close()
    return connect_s, talk_s


# --- the storage check -------------------------------------------------------------------------------------

def check_conversation(conversation: Conversation, events: List[Dict[str, Any]], channel: str, redacted: bool
                       ) -> Tuple[collections.Counter, List[str]]:
    from privacy.redaction import redact

    found: collections.Counter = collections.Counter()
    examples: List[str] = []

    def violation(kind: str, detail: str) -> None:
        found[kind] += 1
        if len(examples) < 3:
            examples.append(f"{conversation.pid} ({conversation.script}) {kind}: {detail}")

    sent = {message.turn: message for message in conversation.messages}
    turns: List[Tuple[Dict[str, Any], List[Dict[str, Any]]]] = []
    for event in events:
        if event.get("event") == "user":
            turns.append((event, []))
        elif turns:
            turns[-1][1].append(event)
    stored_turns: List[int] = []
    for user, rest in turns:
        metadata = user.get("metadata") or {}
        if metadata.get("patient") != conversation.pid or metadata.get("turn") not in sent:
            violation("misattributed", f"a user event of {metadata.get('patient')!r} turn {metadata.get('turn')!r}")
            continue
        turn = metadata["turn"]
        message = sent[turn]
        stored_turns.append(turn)
        if turn not in stored_turns[:-1] and rest and isinstance(user.get("timestamp"), (int, float)):
            # Where the time went: before the user event is stored-stamped (transport, queueing in nginx,
            # Sanic and the event loop, the lock, loading the tracker, NLU) and after it (policies, actions).
            message.to_user_event_ms = (user["timestamp"] - message.sent_at) * 1000
            message.dialogue_ms = (rest[-1].get("timestamp", user["timestamp"]) - user["timestamp"]) * 1000
        expected_text = redact(message.text) if redacted else message.text
        if user.get("text") != expected_text:
            violation("altered", f"turn {turn}: stored {user.get('text')!r}, sent {message.text!r}")
        if not rest or not is_listen(rest[-1]):
            violation("incomplete_turn", f"turn {turn} does not end with action_listen "
                                         f"({[e.get('name') or e.get('event') for e in rest]})")
        if not message.error:
            stored = [token for event in rest if event.get("event") == "bot" for token in stored_tokens(event, channel)]
            received = [token for token in message.replies if not service_reply(token)]
            if stored != received:
                found["reply_mismatch"] += 1
                if len(examples) < 3:
                    examples.append(f"{conversation.pid} reply_mismatch turn {turn}: received {len(received)} "
                                    f"{[t[:40] for t in received]}, stored {len(stored)} {[t[:40] for t in stored]}")
    counts = collections.Counter(stored_turns)
    for turn, count in counts.items():
        if count > 1:
            violation("duplicated", f"turn {turn} stored {count} times")
    unique = [turn for i, turn in enumerate(stored_turns) if turn not in stored_turns[:i]]
    for before, after in zip(unique, unique[1:]):
        if after < before:
            violation("misordered", f"turn {after} stored after turn {before}")
    for message in conversation.messages:
        if message.turn in counts:
            continue
        if message.error:
            found["not_stored_after_error"] += 1
        elif not message.refused:
            violation("lost", f"turn {message.turn} {message.text!r} answered but not stored")
    return found, examples


def check_run(store: Store, conversations: List[Conversation], channel: str, redacted: bool
              ) -> Tuple[collections.Counter, List[str]]:
    active = [c for c in conversations if c.sender and not c.failed]
    by_sender: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
    for sender, data in store.query("SELECT sender_id, data FROM events WHERE sender_id = ANY(%s) ORDER BY id",
                                    [c.sender for c in active]):
        by_sender[sender].append(json.loads(data))
    total: collections.Counter = collections.Counter()
    examples: List[str] = []
    for conversation in active:
        found, some = check_conversation(conversation, by_sender.get(conversation.sender, []), channel, redacted)
        total.update(found)
        examples += some[: max(0, 10 - len(examples))]
    # Our patients' messages stored under a conversation that is not theirs (anyone's).
    owner = {c.pid: c.sender for c in active}
    rows = store.query("SELECT sender_id, data::jsonb->'metadata'->>'patient' FROM events WHERE type_name = 'user' "
                       "AND data::jsonb->'metadata'->>'patient' = ANY(%s)", list(owner))
    for sender, pid in rows:
        if owner.get(pid) != sender:
            total["misattributed"] += 1
            if len(examples) < 10:
                examples.append(f"{pid}: a message stored under conversation {sender}")
    return total, examples


# --- one run, one cluster, the matrix --------------------------------------------------------------------------

def summarise(bot: str, setup: int, channel: str, n: int, conversations: List[Conversation], wall: float,
              connect_s: float, cpu_s: float, checked: collections.Counter, examples: List[str],
              settle_s: float, rss: List[float], load: Tuple[float, float, float]) -> Dict[str, Any]:
    messages = [m for c in conversations for m in c.messages]
    answered = [m for m in messages if not m.error]
    errors = collections.Counter(m.error for m in messages if m.error)
    errors.update("empty_reply" for m in answered if m.empty)
    errors.update(f"service:{m.service}" for m in answered if m.service)
    errors.update("connect_failed" for c in conversations if c.failed)

    def stats(values: List[float]) -> Dict[str, Optional[float]]:
        if not values:
            return {"p50": None, "p95": None, "p99": None, "max": None}
        return {"p50": percentile(values, 0.50), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
                "max": max(values)}

    return {
        "bot": bot, "setup": setup, "channel": channel, "patients": n,
        "conversations": len(conversations),
        "conversations_finished": sum(1 for c in conversations if not c.failed and c.messages
                                      and not c.messages[-1].error),
        "messages": len(messages), "answered": len(answered),
        "wall_s": wall, "connect_s": connect_s,
        "throughput_msgs_per_s": len(answered) / wall if wall else 0.0,
        "latency_ms": stats([m.last_ms for m in answered if m.last_ms is not None]),
        "first_reply_ms": stats([m.first_ms for m in answered if m.first_ms is not None]),
        "turn_done_ms": stats([m.done_ms for m in answered if m.done_ms is not None]),
        "to_user_event_ms": stats([m.to_user_event_ms for m in answered if m.to_user_event_ms is not None]),
        "dialogue_ms": stats([m.dialogue_ms for m in answered if m.dialogue_ms is not None]),
        "errors": dict(errors), "error_total": sum(errors.values()),
        "storage": {kind: checked.get(kind, 0) for kind in STORAGE_VIOLATIONS},
        "storage_violations": sum(checked.get(kind, 0) for kind in STORAGE_VIOLATIONS),
        "reply_mismatch": checked.get("reply_mismatch", 0),
        "not_stored_after_error": checked.get("not_stored_after_error", 0),
        "stray_replies": sum(c.stray for c in conversations),
        "connections_dropped": sum(1 for c in conversations if c.dropped),
        "examples": examples,
        "settle_s": settle_s,
        "client_cpu_s": cpu_s,
        "rasa_rss_mib": rss,
        "loadavg_before": load,
    }


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def servers_cpu_s(cluster: Cluster) -> List[float]:
    """Each instance's Rasa server CPU seconds so far (shows how nginx spread the load)."""
    return [process_cpu_s(instance.rasa.proc.pid) if instance.rasa else 0.0 for instance in cluster.instances]


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listening socket's accept queue was full
    (TcpExt ListenOverflows; machine-wide): Rasa's Sanic listens with a backlog of SANIC_BACKLOG=100."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                 if line.startswith("TcpExt:")]
        return int(dict(zip(lines[0][1:], lines[1][1:]))["ListenOverflows"])
    except (OSError, KeyError, IndexError, ValueError):
        return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def progress(label: str, conversations: List[Conversation], total: int) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(10)
        messages = [m for c in conversations for m in c.messages]
        done = sum(1 for m in messages if m.done_ms is not None or m.error)
        errors = sum(1 for m in messages if m.error or m.service or m.empty)
        print(f"    {label}: {time.perf_counter() - started:5.0f} s, {done} messages answered, "
              f"{errors} errors", flush=True)


def one_run(cluster: Cluster, bot: str, setup: int, channel: str, n: int, args: argparse.Namespace,
            store: Store) -> Dict[str, Any]:
    tag = uuid.uuid4().hex[:6]
    scripts = KNEE_PATIENTS if bot == "knee" else STOCK_PATIENTS
    plan = []
    for index in range(n):
        patient = scripts[index % len(scripts)]
        pid = f"lt{tag}_{bot}{setup}{channel[0]}{n}_{index}"
        plan.append((patient, Conversation(pid, patient.name, sender=pid if channel == "rest" else None)))
    conversations = [c for _, c in plan]
    label = f"{bot} x{setup} {channel} N={n}"
    print(f"  {label}: running ...", flush=True)
    load = os.getloadavg()
    TRANSPORT_REASONS.counts.clear()
    overflows = listen_overflows()
    cpu = cpu_seconds()
    server_cpu = servers_cpu_s(cluster)

    async def go() -> Tuple[float, float]:
        ticker = asyncio.ensure_future(progress(label, conversations, n))
        try:
            if channel == "rest":
                started = time.perf_counter()
                await run_rest(cluster.url, plan, args.think, args.timeout)
                return time.perf_counter() - started, 0.0
            connect_s, talk_s = await run_socketio(cluster.url, plan, bot == "knee", store, args.think,
                                                   args.timeout, args.quiet, args.settle)
            return talk_s, connect_s
        finally:
            ticker.cancel()

    wall, connect_s = asyncio.run(go())
    cpu = cpu_seconds() - cpu
    settle_s = store.settle()
    server_cpu = [round(after - before, 1) for before, after in zip(server_cpu, servers_cpu_s(cluster))]
    checked, examples = check_run(store, conversations, channel, redacted=bot == "knee")
    rss = [round(rss_mib(instance.rasa.proc.pid), 1) for instance in cluster.instances if instance.rasa]
    result = summarise(bot, setup, channel, n, conversations, wall, connect_s, cpu, checked, examples, settle_s,
                       rss, load)
    result["rasa_cpu_s"] = server_cpu
    result["transport_warnings"] = dict(TRANSPORT_REASONS.counts)
    result["listen_overflows"] = listen_overflows() - overflows
    lat = result["latency_ms"]
    print(f"  {label}: {result['answered']}/{result['messages']} messages in {wall:.1f} s = "
          f"{result['throughput_msgs_per_s']:.1f} msg/s; p50/p95/p99 {fmt(lat['p50'])}/{fmt(lat['p95'])}/"
          f"{fmt(lat['p99'])} ms; errors {result['errors'] or 0}; storage violations "
          f"{result['storage_violations']}; reply mismatches {result['reply_mismatch']}", flush=True)
    for example in examples[:5]:
        print(f"      {example}", flush=True)
    return result


def write_stock_files(project: Path, cluster: Cluster) -> None:
    pg, red = cluster.postgres, cluster.redis
    (project / "endpoints.yml").write_text(
        "# Written by scripts/load_test.py: the same PostgreSQL and Redis as the knee assistant's cluster,\n"
        "# through stock Rasa's SQL tracker store and RedisLockStore.\n"
        f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: {pg.port}\n"
        f"  db: postgres\n  username: knee\n  password: \"{pg.password}\"\n"
        f"lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: {red.port}\n  password: \"{red.password}\"\n  db: 0\n")
    stock_credentials = (project / "credentials.yml.stock")
    if not stock_credentials.exists():
        shutil.copy(project / "credentials.yml", stock_credentials)
    (project / "credentials.yml").write_text(
        stock_credentials.read_text() +
        "\n# Added by scripts/load_test.py. session_persistence: false because stock Rasa 3.6 never awaits\n"
        "# enter_room (a coroutine in python-socketio 5.x): a persistent session would get no reply.\n"
        "socketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n  session_persistence: false\n")


def train_stock(workdir: Path, given: Optional[Path]) -> Tuple[Path, Path, Optional[float]]:
    project = stock_project(workdir)
    if given:
        return project, given.resolve(), None
    print("stock bot: training (cold cache) ...", flush=True)
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1", RASA_CACHE_DIRECTORY=str(workdir / "stock-cache"))
    started = time.perf_counter()
    with (workdir / "stock-train.log").open("wb") as log:
        subprocess.run([RASA, "train", "--domain", "domain.yml", "--out", str(workdir / "stock-models"),
                        "--fixed-model-name", "rasa-init"], cwd=project, env=env, check=True, stdout=log,
                       stderr=subprocess.STDOUT)
    took = time.perf_counter() - started
    print(f"stock bot: trained in {took:.0f} s -> {workdir / 'stock-models' / 'rasa-init.tar.gz'}", flush=True)
    return project, workdir / "stock-models" / "rasa-init.tar.gz", took


def warm_up(cluster: Cluster, bot: str) -> None:
    """A few conversations per instance, directly, before measuring (Rasa loads lazily): not counted."""
    import requests

    scripts = KNEE_PATIENTS if bot == "knee" else STOCK_PATIENTS
    for instance in cluster.instances:
        for patient in scripts:
            sender = f"warmup-{uuid.uuid4().hex[:10]}"
            for text in patient.opening[:4]:
                requests.post(instance.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text},
                              timeout=120)


def run_matrix(args: argparse.Namespace, workdir: Path, results: Dict[str, Any]) -> None:
    stock = None
    if "stock" in args.bots:
        project, model, took = train_stock(workdir, args.stock_model)
        stock = (project, model)
        results["stock_model"] = str(model)
        results["stock_train_s"] = took
    for bot in args.bots:
        for setup in args.setups:
            name = f"{bot}-x{setup}"
            print(f"\n== {bot} bot, {setup} instance(s) behind nginx: starting a fresh cluster ...", flush=True)
            cluster_dir = workdir / name
            cluster_dir.mkdir()
            extra = dict(item.split("=", 1) for item in args.env)
            if bot == "knee":
                cluster = Cluster(cluster_dir, instances=setup, extra_env={**KNEE_ENV, **extra}, model=args.knee_model)
            else:
                cluster = Cluster(cluster_dir, instances=setup, extra_env=extra, model=stock[1], project=stock[0])
                write_stock_files(stock[0], cluster)
            store = None
            try:
                started = time.perf_counter()
                cluster.start()
                print(f"   cluster up in {time.perf_counter() - started:.0f} s ({cluster.url}); warming up ...",
                      flush=True)
                warm_up(cluster, bot)
                store = Store(cluster.postgres.url)
                for channel in args.channels:
                    for n in args.patients:
                        results["runs"].append(one_run(cluster, bot, setup, channel, n, args, store))
                        save(results)
            except Exception as error:
                print(f"!! {name} failed: {type(error).__name__}: {error}"[:3000], flush=True)
                results["failures"].append(f"{name}: {type(error).__name__}: {str(error)[:500]}")
            finally:
                if store:
                    store.close()
                print(f"   stopping the {name} cluster ...", flush=True)
                cluster.stop()


# --- reports -------------------------------------------------------------------------------------------------

def fmt(value: Optional[float], digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def side_by_side(runs: List[Dict[str, Any]]) -> List[str]:
    index = {(r["bot"], r["setup"], r["channel"], r["patients"]): r for r in runs}
    keys = sorted({(r["setup"], r["channel"], r["patients"]) for r in runs})
    lines = ["| setup | channel | N | msgs knee / stock | msg/s knee / stock | p50 ms knee / stock | "
             "p95 ms knee / stock | p99 ms knee / stock | first reply p50 knee / stock | errors knee / stock | "
             "storage violations knee / stock |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def pair(key, get) -> str:
        return " / ".join(get(index[(bot, *key)]) if (bot, *key) in index else "n/a" for bot in ("knee", "stock"))

    for key in keys:
        setup, channel, n = key
        lines.append("| " + " | ".join([
            f"{setup} instance{'s' if setup > 1 else ''}", channel, str(n),
            pair(key, lambda r: str(r["answered"])),
            pair(key, lambda r: fmt(r["throughput_msgs_per_s"], 1)),
            pair(key, lambda r: fmt(r["latency_ms"]["p50"])),
            pair(key, lambda r: fmt(r["latency_ms"]["p95"])),
            pair(key, lambda r: fmt(r["latency_ms"]["p99"])),
            pair(key, lambda r: fmt(r["first_reply_ms"]["p50"])),
            pair(key, lambda r: str(r["error_total"])),
            pair(key, lambda r: str(r["storage_violations"])),
        ]) + " |")
    return lines


def detail_table(runs: List[Dict[str, Any]]) -> List[str]:
    lines = ["| bot | setup | channel | N | conv. done | msgs | wall s | msg/s | p50 | p95 | p99 | max | "
             "first p50/p95/p99 | to user event p50/p99 | dialogue p50/p99 | errors | "
             "storage (lost/dup/order/altered/misattr/incomplete) | reply mismatch | stray | dropped sockets | "
             "listen overflows | client CPU s | Rasa CPU s | Rasa RSS MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"
             "---:|---:|---:|---:|---:|---|---|"]
    for r in runs:
        lat, first = r["latency_ms"], r["first_reply_ms"]
        before, dialogue = r.get("to_user_event_ms", {}), r.get("dialogue_ms", {})
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "0"
        storage = "/".join(str(r["storage"][k]) for k in STORAGE_VIOLATIONS)
        lines.append(f"| {r['bot']} | {r['setup']} | {r['channel']} | {r['patients']} | "
                     f"{r['conversations_finished']}/{r['conversations']} | {r['answered']}/{r['messages']} | "
                     f"{r['wall_s']:.1f} | {r['throughput_msgs_per_s']:.1f} | {fmt(lat['p50'])} | {fmt(lat['p95'])} | "
                     f"{fmt(lat['p99'])} | {fmt(lat['max'])} | "
                     f"{fmt(first['p50'])}/{fmt(first['p95'])}/{fmt(first['p99'])} | "
                     f"{fmt(before.get('p50'))}/{fmt(before.get('p99'))} | "
                     f"{fmt(dialogue.get('p50'))}/{fmt(dialogue.get('p99'))} | "
                     f"{errors} | {storage} | "
                     f"{r['reply_mismatch']} | {r['stray_replies']} | {r.get('connections_dropped', 0)} | "
                     f"{r.get('listen_overflows', 0)} | {r['client_cpu_s']:.1f} | "
                     f"{', '.join(str(x) for x in r.get('rasa_cpu_s', []))} | "
                     f"{', '.join(str(x) for x in r['rasa_rss_mib'])} |")
    return lines


NOTES = """\
How to read this:
* Each patient is one conversation, all N at once, each message sent as soon as the previous turn is over
  (think time {think} s). Knee patients: tests/patients.py (full self-check with button payloads, an
  emergency in the self-check, questions); stock patients: 6-turn conversations from the `rasa init` data.
* "1 instance" and "2 instances" are both behind nginx (deploy/nginx template), with one or two upstreams.
  Each bot runs on a fresh cluster of its own (PostgreSQL, Redis, nginx, Rasa servers, one action server
  per instance; the stock one is idle), reused for both channels and both N.
* Latency: REST = request -> response (the whole turn). socket.io = message -> last bot_uttered of the turn
  (turn end: no reply for {quiet} s, then the turn found stored in PostgreSQL with as many replies as the
  client holds); "first reply" = message -> first bot_uttered. msg/s = answered messages / wall time
  (socket.io: after all clients connected). socket.io patients wait the quiet window and a look-up between
  turns, so their msg/s is not comparable with REST's.
* Where the time goes (from the stored events' timestamps, same clock): "to user event" = message sent ->
  the user event's timestamp (transport, queueing in nginx / the kernel's accept queue / Sanic / the event
  loop, the conversation lock, loading the tracker, NLU); "dialogue" = user event -> the turn's closing
  action_listen (policies, actions, sending the replies).
* Errors: transport errors (http_NNN, timeout after {timeout} s, connection, disconnected = the socket.io
  connection was dropped mid-conversation, unconfirmed = replies stopped and the turn was not found stored
  within {settle} s; a patient stops at such an error), empty_reply (a turn with no reply), service:<name>
  (the knee guard's replies: utter_unavailable = the turn failed or passed TURN_DEADLINE_SECONDS),
  connect_failed (socket.io).
* Storage violations (from PostgreSQL, per conversation): lost (answered, not stored), duplicated,
  misordered, altered (stored text != sent, after the knee bot's redaction; or metadata), misattributed
  (a user event of another patient in the conversation, or ours in another conversation), incomplete_turn
  (a turn not ending with action_listen before the next message). reply mismatch: the replies stored for a
  turn are not those the client received. stray: socket.io replies that came after their turn was judged over.
* dropped sockets: socket.io connections lost mid-conversation (python-engineio gives up on a polling request
  that fails, e.g. a 502 from nginx). listen overflows: connections the kernel dropped during the run because
  a listening socket's accept queue was full (machine-wide counter; Rasa listens with SANIC_BACKLOG, default
  100, and a busy Rasa process accepts late).
* The knee servers run with RATE_LIMIT="100000/60" (the default 30/60;10/5 is per patient, for people);
  everything else is as deployed (TURN_DEADLINE_SECONDS 8, ACTION_TIMEOUT_SECONDS 4).
* The stock bot: Rasa's SQL tracker store and RedisLockStore on the same PostgreSQL/Redis; its socketio
  channel with session_persistence: false (stock Rasa 3.6 never awaits python-socketio 5.x's enter_room
  coroutine, so a persistent session gets no reply), conversation id = the socket's sid.
* The load generator shares the machine's CPUs with the servers (client CPU s is its own use; Rasa CPU s
  is each Rasa server's CPU time during the run, i.e. how nginx spread the work over the instances).
"""


def markdown(results: Dict[str, Any]) -> str:
    runs = results["runs"]
    args = results["arguments"]
    lines = [f"# Load test: knee assistant vs stock `rasa init` bot", "",
             f"Run {results['started']} on {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
             f"Rasa {results['machine']['rasa']}; took {fmt(results.get('elapsed_s'))} s. Matrix: bots {args['bots']}, "
             f"setups {args['setups']}, channels {args['channels']}, N {args['patients']}, think {args['think']} s"
             f"{', server environment ' + ' '.join(args['env']) if args.get('env') else ''}.",
             ""]
    if results.get("stock_train_s"):
        lines += [f"Stock bot trained in this run (cold cache): {results['stock_train_s']:.0f} s.", ""]
    if results["failures"]:
        lines += ["**Failures:**", ""] + [f"* {f}" for f in results["failures"]] + [""]
    lines += ["## Side by side", ""] + side_by_side(runs) + ["", "## Every run", ""] + detail_table(runs)
    examples = [(r, e) for r in runs for e in r["examples"]]
    examples += [(r, f"socket.io client gave up {count}x: {why}") for r in runs
                 for why, count in r.get("transport_warnings", {}).items()]
    if examples:
        lines += ["", "## Check findings (first examples per run)", ""]
        lines += [f"* {r['bot']} x{r['setup']} {r['channel']} N={r['patients']}: {e}" for r, e in examples]
    lines += ["", NOTES.format(think=args["think"], quiet=args["quiet"], timeout=args["timeout"],
                               settle=args["settle"])]
    return "\n".join(lines)


def save(results: Dict[str, Any]) -> None:
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "load_test.json").write_text(json.dumps(results, indent=2, default=str))
    (out / "load_test.md").write_text(markdown(results) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    import rasa

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[50, 200], help="numbers of simulated patients")
    parser.add_argument("--channels", nargs="+", default=["rest", "socketio"], choices=["rest", "socketio"])
    parser.add_argument("--setups", type=int, nargs="+", default=[1, 2], choices=[1, 2],
                        help="Rasa instances behind nginx")
    parser.add_argument("--bots", nargs="+", default=["knee", "stock"], choices=["knee", "stock"])
    parser.add_argument("--think", type=float, default=0.0, help="seconds between a reply and the next message")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a message may wait for its reply")
    parser.add_argument("--quiet", type=float, default=0.25,
                        help="socket.io: seconds without a reply before asking the store whether the turn is over")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="socket.io: seconds without a reply after which an unstored turn is an error")
    parser.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra environment for both bots' Rasa servers, e.g. SANIC_BACKLOG=1024")
    parser.add_argument("--knee-model", type=Path, default=MODEL)
    parser.add_argument("--stock-model", type=Path, help="a trained stock model to reuse instead of training")
    parser.add_argument("--workdir", type=Path, help="where logs and the stock project go (default: a new temp dir)")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="knee-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load test work folder (server logs): {workdir}", flush=True)
    results: Dict[str, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "rasa": rasa.__version__},
        "knee_env": KNEE_ENV, "workdir": str(workdir), "runs": [], "failures": [],
    }

    def interrupted(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    started = time.perf_counter()
    code = 0
    try:
        run_matrix(args, workdir, results)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, partial report written", flush=True)
        results["failures"].append("interrupted")
        code = 130
    finally:
        results["elapsed_s"] = time.perf_counter() - started
        save(results)
    runs = results["runs"]
    print("\n" + "\n".join(side_by_side(runs)))
    print("\n" + "\n".join(detail_table(runs)))
    print(f"\ntook {results['elapsed_s']:.0f} s; written to reports/load_test.json and reports/load_test.md")
    knee_bad = sum(r["storage_violations"] for r in runs if r["bot"] == "knee")
    stock_bad = sum(r["storage_violations"] for r in runs if r["bot"] == "stock")
    if stock_bad:
        print(f"stock bot: {stock_bad} storage violation(s) (see the report)")
    if knee_bad:
        print(f"KNEE ASSISTANT: {knee_bad} storage violation(s): messages lost, out of order or misattributed")
        return 1
    if code:
        return code
    return 2 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
