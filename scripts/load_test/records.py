"""What a run sends and receives: the patients' scripts, the messages and conversations, and how a
reply is compared with what was stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from channels.guard import REFUSALS
from harness.patients import PATIENTS, SERVICE_TEXTS, Patient

KNEE_ENV = {"RATE_LIMIT": "100000/60"}
# The stock bot's conversations, from its own training data (data/stories.yml, rules.yml, nlu.yml).
STOCK_PATIENTS = [
    Patient("stock_happy", ["hello there", "I am feeling great", "are you a bot?", "good morning", "amazing", "bye"]),
    Patient("stock_sad_helped", ["hi", "I am sad", "yes", "are you a bot?", "hey", "goodbye"]),
    Patient(
        "stock_sad_not_helped",
        ["hey", "my day was horrible", "no", "am I talking to a bot?", "good evening", "see you later"],
    ),
]
KNEE_PATIENTS = list(PATIENTS.values())
# The guard's replies, recognised by their first words (the rest is filled in from slots).
SERVICE_PREFIXES = {name: text.split("{")[0] for name, text in SERVICE_TEXTS.items()}
# refused_stored: a message the guard refused (busy, too long, ...) found stored all the same.
STORAGE_VIOLATIONS = (
    "lost",
    "duplicated",
    "misordered",
    "altered",
    "misattributed",
    "incomplete_turn",
    "refused_stored",
)
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
    first_ms: Optional[float] = None  # sent -> first reply (REST: the response)
    last_ms: Optional[float] = None  # sent -> last reply of the turn
    done_ms: Optional[float] = None  # sent -> the client knew the turn was over
    replies: List[str] = field(default_factory=list)
    error: Optional[str] = None  # transport: http_NNN, timeout, connection, disconnected, unconfirmed
    service: Optional[str] = None  # a guard reply among the replies
    empty: bool = False
    sent_at: float = 0.0  # wall clock (time.time) when sent, to compare with stored timestamps
    to_user_event_ms: Optional[float] = None  # sent -> the stored user event's timestamp
    dialogue_ms: Optional[float] = None  # the user event -> the turn's action_listen (stored timestamps)

    @property
    def busy(self) -> bool:
        """The guard's "busy, send it again" (the server had MAX_TURNS_IN_FLIGHT turns going)."""
        return self.service == "utter_busy"

    @property
    def refused(self) -> bool:
        """Refused before the dialogue (not stored): the guard's refusals other than 'unavailable'."""
        return self.service in REFUSALS


@dataclass
class Conversation:
    pid: str
    script: str
    sender: Optional[str] = None
    messages: List[Message] = field(default_factory=list)
    gave_up: bool = False  # left after MAX_SENDS busy replies in a row (an error)
    stray: int = 0  # socket.io replies that came between turns
    dropped: bool = False  # socket.io: the connection was lost mid-conversation
    failed: Optional[str] = None  # the conversation could not start (socket.io connect)
    last_id: int = 0  # socket.io: last stored event seen (turn confirmation)
