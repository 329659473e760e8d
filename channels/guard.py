"""What happens to every patient message on every channel, around the dialogue (Rasa's own
processing): the channels (REST, socket.io, Twilio, Telegram) hand their message handler to
`PatientGuard.wrap`.

Before the dialogue, a message is answered politely, and not processed (nor stored), when it is
  * empty (nothing to read),
  * longer than MAX_MESSAGE_CHARS (a pasted document; reading 100 kB costs seconds of CPU),
  * one too many for this instance: MAX_TURNS_IN_FLIGHT turns are already being answered here. The
    patient hears at once that we are busy, to send it again in a moment and, if it is an emergency,
    to call emergency services now (utter_busy); an output channel that can mark the reply
    (`send_busy_reply`: the widget, which offers to send that message again) does. Without the
    bound, a burst queues inside the server (the event loop does one turn's CPU at a time) until
    nginx gives up with a gateway error and the patient hears nothing. A message that may describe
    an emergency or a crisis is never refused so: the red-flag classifier alone reads it first
    (clinical/red_flag_model.EmergencyScreen, about 2 ms), and it goes through past the bound to the
    red-flag check and its emergency reply,
  * over the per-patient RATE_LIMIT (a script, a stuck key): counted in Redis when REDIS_URL is set,
    so that all instances share the count.
After it, the patient is never left in silence: if the dialogue sent nothing (a custom action failed,
e.g. the action server is down), raised, or sent nothing within TURN_DEADLINE_SECONDS, the patient
gets utter_unavailable. A late turn goes on in the background and is stored as usual. (A slow action
server is given up on after ACTION_TIMEOUT_SECONDS: scripts/rasa_server.py sets that when the server
starts.)

The replies are domain responses (domain/service.yml), filled in with the clinic's slots.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Dict, Optional, Set, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.shared.core.domain import Domain

import settings
from clinical.red_flag_model import SCREEN

from .clinic_domain import project_domain, slot_values
from .rate_limit import RateLimiter

logger = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]
Screen = Callable[[str], bool]

MAX_MESSAGE_CHARS = settings.integer("MAX_MESSAGE_CHARS")
RATE_LIMIT = settings.text("RATE_LIMIT")
TURN_DEADLINE_SECONDS = settings.seconds("TURN_DEADLINE_SECONDS")
MAX_TURNS_IN_FLIGHT = settings.integer("MAX_TURNS_IN_FLIGHT")

# The guard's own replies (domain/service.yml); all but utter_unavailable refuse a message unread.
REFUSALS = ("utter_empty_message", "utter_message_too_long", "utter_busy", "utter_slow_down")
SERVICE_REPLIES = REFUSALS + ("utter_unavailable",)

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def readable(text: str) -> str:
    """The text with lone surrogates (JSON can spell "\ud800"; no real keyboard types one) replaced:
    spaCy's tokenizer raises on them, and the database cannot store them."""
    return text.encode("utf-8", "replace").decode("utf-8")


class ServiceReplies:
    """The guard's replies, from the domain, with {slot} placeholders filled from the slots' initial
    values (the clinic's name and phone live in domain/clinic.yml)."""

    def __init__(self, domain: Domain, **extra: Any) -> None:
        values = slot_values(domain)
        values.update({name: str(value) for name, value in extra.items()})
        self._texts = {
            name: _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), domain.responses[name][0]["text"])
            for name in SERVICE_REPLIES
        }

    def __getitem__(self, name: str) -> str:
        return self._texts[name]


class _WatchedOutput(OutputChannel):
    """The channel's own output, counting what the dialogue sends."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> Text:
        return self.inner.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


class PatientGuard:
    def __init__(
        self,
        replies: Optional[ServiceReplies] = None,
        rate_limit: str = RATE_LIMIT,
        redis_url: Optional[str] = None,
        max_chars: int = MAX_MESSAGE_CHARS,
        deadline: float = TURN_DEADLINE_SECONDS,
        max_in_flight: int = MAX_TURNS_IN_FLIGHT,
        screen: Optional[Screen] = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"MAX_TURNS_IN_FLIGHT must be at least 1, not {max_in_flight}")
        self.max_chars = max_chars
        self.deadline = deadline
        self.max_in_flight = max_in_flight
        self.screen = screen or SCREEN.may_be_an_emergency
        self.in_flight = 0  # turns admitted and not finished, late ones included: they still take CPU
        self.busy_replies = 0
        self.admitted_past_the_bound = 0  # possible emergencies
        self.replies = replies or ServiceReplies(project_domain(), max_chars=max_chars)
        self.limiter = RateLimiter(rate_limit, redis_url if redis_url is not None else settings.optional("REDIS_URL"))
        self._late_turns: Set["asyncio.Task[Any]"] = set()

    def allowed(self, sender_id: Text) -> bool:
        try:
            return self.limiter.allow(sender_id)
        except Exception as error:  # the limiter's store is down: let the patient through
            logger.warning(f"Rate limiter unavailable ({type(error).__name__}); message let through.")
            return True

    def wrap(self, on_new_message: Handler) -> Handler:
        async def guarded(message: UserMessage) -> None:
            output = message.output_channel
            reply = self._refusal(message)
            if reply == "utter_busy":
                self.busy_replies += 1
                await self._send_busy(output, message)
                return
            if reply:
                await output.send_response(message.sender_id, {"text": self.replies[reply]})
                return
            watched = _WatchedOutput(output)
            turn = asyncio.ensure_future(
                on_new_message(
                    UserMessage(
                        readable(message.text),
                        watched,
                        message.sender_id,
                        message.parse_data,
                        message.input_channel,
                        message.message_id,
                        message.metadata,
                    )
                )
            )
            # Admitted. No await since the count was checked, so no other turn slips in between.
            self.in_flight += 1
            turn.add_done_callback(self._turn_done)
            try:
                await asyncio.wait_for(asyncio.shield(turn), self.deadline)
            except asyncio.TimeoutError:
                logger.warning(
                    f"A turn on {message.input_channel} passed {self.deadline:.0f} s; "
                    "the patient was answered, the turn goes on."
                )
                self._late_turns.add(turn)
                turn.add_done_callback(self._late_turn_done)
            except Exception as error:
                # The type only: an exception's text can quote the message.
                logger.error(f"A turn on {message.input_channel} failed: {type(error).__name__}")
            if watched.sent == 0:
                await output.send_response(message.sender_id, {"text": self.replies["utter_unavailable"]})

        return guarded

    def _refusal(self, message: UserMessage) -> Optional[str]:
        text = message.text or ""
        if not text.strip():
            return "utter_empty_message"
        if len(text) > self.max_chars:
            return "utter_message_too_long"
        # Before the rate limit: a message refused as busy is not counted against the patient.
        if self.in_flight >= self.max_in_flight:
            if not self._may_be_an_emergency(text):
                return "utter_busy"
            self.admitted_past_the_bound += 1
            logger.warning(f"Busy ({self.in_flight} turns going): a possible emergency was let through.")
        if not self.allowed(message.sender_id):
            return "utter_slow_down"
        return None

    def _may_be_an_emergency(self, text: str) -> bool:
        try:
            return self.screen(readable(text))
        except Exception as error:  # the screen failed: read the message rather than refuse it
            logger.error(f"The overload screen failed ({type(error).__name__}); the message goes through.")
            return True

    async def _send_busy(self, output: OutputChannel, message: UserMessage) -> None:
        """The busy reply; an output that can mark it (`send_busy_reply`) gets the message's metadata,
        to name which message to send again."""
        send_busy_reply = getattr(output, "send_busy_reply", None)
        if send_busy_reply is not None:
            await send_busy_reply(message.sender_id, self.replies["utter_busy"], message.metadata or {})
        else:
            await output.send_response(message.sender_id, {"text": self.replies["utter_busy"]})

    def _turn_done(self, _: "asyncio.Future[Any]") -> None:
        self.in_flight -= 1

    def _late_turn_done(self, turn: "asyncio.Task[Any]") -> None:
        self._late_turns.discard(turn)
        if not turn.cancelled() and turn.exception() is not None:
            logger.error(f"A late turn failed: {type(turn.exception()).__name__}")


_shared: Optional[PatientGuard] = None


def patient_guard() -> PatientGuard:
    """One guard per server process, shared by its channels (one rate count per patient)."""
    global _shared
    if _shared is None:
        _shared = PatientGuard()
    return _shared
