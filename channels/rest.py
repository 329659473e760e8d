"""The REST channel, `POST /webhooks/rest/webhook` with {"sender": ..., "message": ..., "metadata": {...}}:
Rasa's RestInput with the patient guard (channels/guard.py) and a checked request. A malformed
request gets a 400 with a one-line JSON reason instead of an unhandled exception: no JSON, not an
object, no sender or one that cannot be stored, a message that is not text, metadata that is not an
object. The sender may not
choose the input channel (Rasa's "input_channel" field), and there is no streaming mode.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from .errors import use_plain_errors
from .guard import patient_guard

MAX_SENDER_CHARS = 128
MAX_BODY_BYTES = 256 * 1024  # room for a message well past the guard's limit, which then answers politely


def storable(sender: str) -> bool:
    """The sender id is a database key: PostgreSQL cannot store a NUL, nor anything a lone surrogate
    (JSON can spell "\\ud800"), and Rasa's SQL tracker store used to exit the server on either."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in sender)


def read_request(body: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(the checked fields, None) or (None, what is wrong with the request)."""
    if len(body) > MAX_BODY_BYTES:
        return None, "request too large"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: a few kB of nested brackets
        return None, "the body must be JSON"
    if not isinstance(data, dict):
        return None, "the body must be a JSON object"
    sender, message, metadata = data.get("sender"), data.get("message", ""), data.get("metadata") or {}
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS or not storable(sender):
        return None, f"'sender' must be a string of 1 to {MAX_SENDER_CHARS} characters, without control characters"
    if message is None:
        message = ""
    if not isinstance(message, str):
        return None, "'message' must be a string"
    if not isinstance(metadata, dict):
        return None, "'metadata' must be a JSON object"
    return {"sender": sender, "message": message, "metadata": metadata}, None


class RestOutput(CollectingOutputChannel):
    """Rasa's collecting output, with the guard's 'busy' reply marked `"busy": true`, so that a client
    knows the message was not read and may send it again."""

    async def send_busy_reply(self, recipient_id: Text, text: Text, metadata: Dict[str, Any]) -> None:
        await self._persist_message({"recipient_id": recipient_id, "text": text, "busy": True})


class RestChannel(RestInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guarded = patient_guard().wrap(on_new_message)
        webhook = Blueprint("rest_webhook", __name__)

        # The REST channel is always on, so it is the one that gives the whole server plain errors.
        @webhook.listener("before_server_start")
        async def plain_errors(app: Any, _: Any) -> None:
            use_plain_errors(app)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            fields, problem = read_request(request.body or b"")
            if problem or fields is None:
                return response.json({"error": problem}, status=400 if problem != "request too large" else 413)
            collector = RestOutput()
            await guarded(
                UserMessage(
                    fields["message"],
                    collector,
                    fields["sender"],
                    input_channel=self.name(),
                    metadata=fields["metadata"],
                )
            )
            return response.json(collector.messages)

        return webhook

    @classmethod
    def name(cls) -> Text:
        return "rest"
