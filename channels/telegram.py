"""Telegram: `POST /webhooks/telegram/webhook` (Telegram's Bot API calls it with each update).

A thin channel over aiogram (what Rasa's own connector uses):
  * buttons become numbered options in the text, and "1" / "2" / the option's words map back
    (text_options.py), as on SMS; long texts are split at Telegram's 4096 characters;
  * the Bot API's base URL is configurable (TELEGRAM_API_URL), as a self-hosted Bot API server
    allows; the tests point it at a fake server on loopback;
  * credentials only from the environment (TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_URL); without them the
    channel is off and says so in the log. With them, the webhook is registered when Rasa starts;
  * the webhook is registered with a secret token (derived from the bot token, so there is nothing
    more to configure), which Telegram sends back in X-Telegram-Bot-Api-Secret-Token with every
    update: a request without it gets 403 and starts no conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

import settings

from .text_channel import TextChannel
from .text_options import OfferedOptions

logger = logging.getLogger(__name__)
TELEGRAM_LIMIT = 4096


def webhook_secret(token: str) -> str:
    """The secret token Telegram echoes with every update (1-256 of A-Z a-z 0-9 _ -)."""
    return hmac.new(token.encode(), b"telegram-webhook-secret", hashlib.sha256).hexdigest()


class TelegramChannel(TextChannel):
    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TelegramChannel":
        missing = [name for name in ("TELEGRAM_TOKEN", "TELEGRAM_WEBHOOK_URL") if not settings.optional(name)]
        if missing:
            logger.warning(f"Telegram channel is off: {', '.join(missing)} not set in the environment.")
            return cls(None, None, None)
        logger.info("Telegram channel is on.")
        return cls(
            settings.text("TELEGRAM_TOKEN"), settings.text("TELEGRAM_WEBHOOK_URL"), settings.text("TELEGRAM_API_URL")
        )

    def __init__(self, token: Optional[str], webhook_url: Optional[str], api_url: Optional[str]) -> None:
        self.token = token
        self.webhook_url = webhook_url
        self.api_url = api_url
        self.offers = OfferedOptions(redis_url=settings.optional("REDIS_URL"))
        self.secret = webhook_secret(token) if token else None

    def _bot(self) -> Bot:
        return Bot(self.token, server=TelegramAPIServer.from_base(self.api_url), validate_token=False)

    async def _send(self, chat_id: int, parts) -> None:
        bot = self._bot()
        try:
            for part in parts:
                await bot.send_message(chat_id, part)
        finally:
            await bot.close()

    async def register_webhook(self) -> None:
        bot = self._bot()
        try:
            # aiogram 2.15's set_webhook predates secret_token (Bot API 6.1): the raw method takes it.
            await bot.request("setWebhook", {"url": self.webhook_url, "secret_token": self.secret})
            logger.info("Telegram webhook registered.")
        except Exception as error:  # the channel still answers once Telegram reaches the webhook
            logger.warning(f"Telegram webhook could not be registered: {type(error).__name__}")
        finally:
            await bot.close()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("telegram_webhook", __name__)

        if self.token:

            @webhook.listener("after_server_start")
            async def register(*_: Any) -> None:
                asyncio.get_running_loop().create_task(self.register_webhook())

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.token else "off"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.token:
                return response.text("Telegram channel is off", status=503)
            if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), self.secret):
                logger.warning("Telegram webhook: request without the secret token rejected.")
                return response.text("forbidden", status=403)
            try:
                update = json.loads(request.body or b"{}")
            except (ValueError, RecursionError):
                return response.text("the body must be JSON", status=400)
            message = (update.get("message") or update.get("edited_message")) if isinstance(update, dict) else None
            text = message.get("text") if isinstance(message, dict) else None
            chat = message.get("chat") if isinstance(message, dict) else None
            chat_id = chat.get("id") if isinstance(chat, dict) else None
            if type(chat_id) is not int or not isinstance(text, str):  # (a bool is an int to isinstance)
                return response.text("ignored")  # stickers, photos, joins...: nothing to answer
            sender = str(chat_id)
            parts = await self.answer_in_text(on_new_message, sender, text, TELEGRAM_LIMIT)
            try:
                await self._send(chat_id, parts)
            except Exception as error:
                # The message is stored: an error status would make Telegram deliver it again, and
                # the patient's turn would be taken twice. The reply is lost; the log says so.
                logger.error(f"Telegram: the reply could not be sent ({type(error).__name__}).")
            return response.text("ok")

        return webhook
