"""The storage check: every message sent is stored once, in order, unaltered, under its own patient."""

from __future__ import annotations

import collections
import json
from typing import Any, Dict, List, Tuple

from scripts.load_test.records import (
    Conversation,
    is_listen,
    service_reply,
    stored_tokens,
)
from scripts.load_test.store import (
    Store,
)


def check_conversation(
    conversation: Conversation, events: List[Dict[str, Any]], channel: str, redacted: bool
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
        if message.refused:
            violation("refused_stored", f"turn {turn} was refused ({message.service}) and stored all the same")
            continue
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
            violation(
                "incomplete_turn",
                f"turn {turn} does not end with action_listen ({[e.get('name') or e.get('event') for e in rest]})",
            )
        if not message.error:
            stored = [token for event in rest if event.get("event") == "bot" for token in stored_tokens(event, channel)]
            received = [token for token in message.replies if not service_reply(token)]
            if stored != received:
                found["reply_mismatch"] += 1
                if len(examples) < 3:
                    examples.append(
                        f"{conversation.pid} reply_mismatch turn {turn}: received {len(received)} "
                        f"{[t[:40] for t in received]}, stored {len(stored)} {[t[:40] for t in stored]}"
                    )
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


def check_run(
    store: Store, conversations: List[Conversation], channel: str, redacted: bool
) -> Tuple[collections.Counter, List[str]]:
    active = [c for c in conversations if c.sender and not c.failed]
    by_sender: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
    for sender, data in store.query(
        "SELECT sender_id, data FROM events WHERE sender_id = ANY(%s) ORDER BY id", [c.sender for c in active]
    ):
        by_sender[sender].append(json.loads(data))
    total: collections.Counter = collections.Counter()
    examples: List[str] = []
    for conversation in active:
        found, some = check_conversation(conversation, by_sender.get(conversation.sender or "", []), channel, redacted)
        total.update(found)
        examples += some[: max(0, 10 - len(examples))]
    # Our patients' messages stored under a conversation that is not theirs (anyone's).
    owner = {c.pid: c.sender for c in active}
    rows = store.query(
        "SELECT sender_id, data::jsonb->'metadata'->>'patient' FROM events WHERE type_name = 'user' "
        "AND data::jsonb->'metadata'->>'patient' = ANY(%s)",
        list(owner),
    )
    for sender, pid in rows:
        if owner.get(pid) != sender:
            total["misattributed"] += 1
            if len(examples) < 10:
                examples.append(f"{pid}: a message stored under conversation {sender}")
    return total, examples
