"""Twilio (SMS and WhatsApp): `POST /webhooks/twilio/webhook`.

Compared with Rasa's own connector:
  * every request must carry a valid X-Twilio-Signature (twilio's RequestValidator, with the auth
    token): a forged or unsigned request gets 403 and starts no conversation;
  * the replies go back in the webhook's TwiML response (no call to Twilio's REST API, so no retries
    or lost replies when that API is slow), with buttons as numbered options and long texts split
    within the platform's limit;
  * the credentials come only from the environment (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
    TWILIO_NUMBER); without them the channel is off and says so in the log;
  * the patient's phone number is not stored: the conversation id is a keyed hash of it
    (`conversation_id`), the same for every message from that number, from which the number cannot
    be read back. (Rotating the auth token starts new conversations.)
TWILIO_WEBHOOK_URL is the public URL Twilio calls, when a proxy sits in front (the signature covers
the URL Twilio used); without it the request's own URL is used.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import parse_qsl

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

import settings

from .text_channel import TextChannel
from .text_options import OfferedOptions

logger = logging.getLogger(__name__)
SMS_LIMIT = 1600  # Twilio's limit for one (concatenated) SMS body
WHATSAPP_LIMIT = 4096  # WhatsApp's limit for one message
ENV = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_NUMBER")


def form_parameters(body: bytes) -> Dict[str, str]:
    """The form's parameters, blank ones included: Twilio signs them all (Body="" for a picture
    message, FromCity="" often), and Sanic's request.form leaves blank ones out."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


class TwilioChannel(TextChannel):
    @classmethod
    def name(cls) -> Text:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TwilioChannel":
        # credentials.yml names the channel only; secrets come from the environment.
        missing = [name for name in ENV if not settings.optional(name)]
        if missing:
            logger.warning(f"Twilio channel is off: {', '.join(missing)} not set in the environment.")
            return cls(None, None)
        logger.info("Twilio channel is on (SMS and WhatsApp).")
        return cls(
            settings.text("TWILIO_AUTH_TOKEN"), settings.text("TWILIO_NUMBER"), settings.optional("TWILIO_WEBHOOK_URL")
        )

    def __init__(self, auth_token: Optional[str], number: Optional[str], public_url: Optional[str] = None) -> None:
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.number = number
        self.public_url = public_url
        self.offers = OfferedOptions(redis_url=settings.optional("REDIS_URL"))

    def conversation_id(self, sender: str) -> str:
        kind = "whatsapp" if sender.startswith("whatsapp:") else "sms"
        if self.auth_token is None:
            raise RuntimeError("the Twilio channel is off: no TWILIO_AUTH_TOKEN")
        return f"{kind}-{hmac.new(self.auth_token.encode(), sender.encode(), hashlib.sha256).hexdigest()[:32]}"

    def _signed(self, request: Request, params: Dict[str, str]) -> bool:
        signature = request.headers.get("X-Twilio-Signature", "")
        url = self.public_url or request.url
        return bool(signature) and self.validator is not None and self.validator.validate(url, params, signature)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("twilio_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.validator else "off"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.validator is None:
                return response.text("Twilio channel is off", status=503)
            params = form_parameters(request.body or b"")
            if not self._signed(request, params):
                logger.warning("Twilio webhook: request without a valid signature rejected.")
                return response.text("forbidden", status=403)
            sender = params.get("From")
            text = params.get("Body") or ""
            if not sender:
                return response.text("", status=400)
            limit = WHATSAPP_LIMIT if sender.startswith("whatsapp:") else SMS_LIMIT
            parts = await self.answer_in_text(on_new_message, self.conversation_id(sender), text, limit)
            twiml = MessagingResponse()
            for part in parts:
                twiml.message(part)
            return response.text(str(twiml), content_type="application/xml")

        return webhook
