"""Buttons for text-only channels (SMS, WhatsApp, Telegram): pure Python, no Rasa imports.

A reply's buttons become numbered options in the text ("1. Yes  2. No  3. Not sure"); the patient
answers "1", "2", or the option's words, and the answer maps back to the button's payload. No
payload ("/affirm") is ever shown to the patient. Long texts are split within a platform's limit,
at paragraph, then sentence, then word boundaries.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_WORDS = re.compile(r"[^\w\s]")


def numbered(text: str, buttons: Sequence[Dict[str, str]]) -> str:
    """The text followed by the buttons as numbered options, one per line."""
    if not buttons:
        return text
    options = "\n".join(f"{i}. {button['title']}" for i, button in enumerate(buttons, start=1))
    return f"{text}\n\n{options}\nReply with a number."


def _normalised(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def payload_for(reply: str, buttons: Sequence[Dict[str, str]]) -> Optional[str]:
    """The payload the patient chose with "2" or with the option's words, or None."""
    match = _NUMBER.match(reply)
    if match:
        index = int(match.group(1)) - 1
        return buttons[index]["payload"] if 0 <= index < len(buttons) else None
    wanted = _normalised(reply)
    for button in buttons:
        if wanted and wanted == _normalised(button["title"]):
            return button["payload"]
    return None


def split(text: str, limit: int) -> List[str]:
    """Parts of at most `limit` characters, cut at a paragraph, a sentence or a word."""
    parts: List[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind("\n\n"), -1)
        if cut <= 0:
            cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "), window.rfind("\n"))
            cut = cut + 1 if cut > 0 else -1
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


@dataclass
class _Offer:
    buttons: Tuple[Dict[str, str], ...]
    at: float


class OfferedOptions:
    """The options last offered to each patient, so a "2" can be mapped back. Kept for an hour only
    (it is conversation state, not health data): in Redis when a URL is given, so that the instance
    that receives the "2" knows what another instance offered; in memory otherwise."""

    def __init__(self, ttl_seconds: float = 3600, max_patients: int = 10_000, redis_url: Optional[str] = None) -> None:
        self.ttl = ttl_seconds
        self.max_patients = max_patients
        self._offers: "OrderedDict[str, _Offer]" = OrderedDict()
        self.red = None
        if redis_url:
            import redis  # only with a URL: this module stays importable without Redis

            self.red = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            self._redis_error = redis.RedisError

    def remember(self, patient: str, buttons: Sequence[Dict[str, str]]) -> None:
        if self.red is not None:
            try:
                self.red.set(f"knee:offer:{patient}", json.dumps([dict(b) for b in buttons]), ex=max(1, int(self.ttl)))
            except self._redis_error as error:  # the next "2" is then read as words: degraded, not lost
                logger.warning(f"Offered options not kept: Redis unavailable ({type(error).__name__}).")
            return
        self._offers[patient] = _Offer(tuple(dict(b) for b in buttons), time.monotonic())
        self._offers.move_to_end(patient)
        while len(self._offers) > self.max_patients:
            self._offers.popitem(last=False)

    def resolve(self, patient: str, reply: str) -> str:
        """The payload for a reply that picks an offered option, else the reply unchanged."""
        return payload_for(reply, self._offered(patient)) or reply

    def _offered(self, patient: str) -> Sequence[Dict[str, str]]:
        if self.red is not None:
            try:
                stored = self.red.get(f"knee:offer:{patient}")
            except self._redis_error as error:
                logger.warning(f"Offered options unknown: Redis unavailable ({type(error).__name__}).")
                return ()
            return json.loads(stored) if stored else ()
        offer = self._offers.get(patient)
        if offer is None or time.monotonic() - offer.at > self.ttl:
            return ()
        return offer.buttons


def render(messages: Sequence[Dict], limit: int) -> Tuple[List[str], List[Dict[str, str]]]:
    """Bot messages (as Rasa's CollectingOutputChannel keeps them) as text parts within `limit`,
    and the buttons offered last (the ones a "1" or "2" will refer to)."""
    parts: List[str] = []
    offered: List[Dict[str, str]] = []
    for message in messages:
        buttons = message.get("buttons") or []
        text = numbered(message.get("text") or "", buttons)
        if buttons:
            offered = list(buttons)
        if text.strip():
            parts += split(text, limit)
    return parts, offered
