"""The web widget's channel: socket.io at /socket.io, events user_uttered / bot_uttered, with session
persistence (the widget keeps its session id for the tab, so a reload or a reconnect carries on).

Rasa's SocketIOInput, rewritten around its SocketIOOutput for four reasons:
  * every message goes through the patient guard (channels/guard.py);
  * malformed events (not an object, a message that is not text, metadata that is not an object, a
    session id that is not a short token) are answered or ignored instead of raising in the server;
  * each message of an emergency reply carries the number to call (WidgetOutput), for the widget's
    call banner;
  * the optional JWT check reads its key from the environment (SOCKETIO_JWT_KEY, and
    SOCKETIO_JWT_METHOD, default HS256), not from credentials.yml; with a key set, a client must
    connect with `auth: {token: "<JWT signed with the key>"}` or is refused.
Sticky sessions: engine.io keeps a long-polling session in the process that opened it, so behind a
load balancer all requests of one socket must reach the same instance. The widget adds
`knee_session=<session id>` to every request's query and nginx hashes on it (deploy/nginx/).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage, decode_bearer_token
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

import settings

from . import sanic_websockets
from .clinic_domain import EmergencyCall
from .guard import patient_guard

# Before any WebSocket is served: Sanic 21.12's WebSockets fail on Python 3.11 without it.
sanic_websockets.apply()

logger = logging.getLogger(__name__)
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def session_id_from(data: Any) -> Optional[str]:
    session = data.get("session_id") if isinstance(data, dict) else None
    return session if isinstance(session, str) and SESSION_ID.fullmatch(session) else None


def metadata_from(data: Dict[str, Any], key: str) -> Dict[str, Any]:
    """The message's metadata if it is a JSON object; anything else (socket.io can carry binary
    attachments, which no tracker store can save) is dropped, not the message."""
    metadata = data.get(key) or {}
    try:
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        json.dumps(metadata)
    except (TypeError, ValueError, RecursionError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


class WidgetOutput(SocketIOOutput):
    """Rasa's socket.io output, with each message of an emergency reply marked with the number to
    call: `{"text": ..., "emergency": {"call": "<emergency_number>"}}`. The widget raises its call banner from that
    mark, so the number has one home (domain/clinic.yml) and the widget no copy of it."""

    def __init__(self, sio: AsyncServer, bot_message_evt: Text, emergency: EmergencyCall) -> None:
        super().__init__(sio, bot_message_evt)
        self.emergency = emergency
        self._call: Optional[str] = None

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        # Rasa names the response a message was made from (a domain response or one an action asked
        # for) in "utter_action"; the parts of one reply are sent before the next reply starts.
        self._call = self.emergency.number_for(message.get("utter_action"))
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._call = None

    async def send_busy_reply(self, recipient_id: Text, text: Text, metadata: Dict[Text, Any]) -> None:
        """The guard's 'busy' reply, marked `"busy": true` and naming the refused message by the id
        the widget gave it (`"resend"`): the widget offers to send exactly that message again."""
        reply: Dict[Text, Any] = {"text": text, "busy": True}
        message_id = metadata.get("client_message_id")
        if isinstance(message_id, (int, str)) and not isinstance(message_id, bool):
            reply["resend"] = message_id
        await self._send_message(recipient_id, reply)

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        if self._call and isinstance(response, dict):
            response = {**response, "emergency": {"call": self._call}}
        await super()._send_message(socket_id, response)


class SocketIOChannel(SocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SocketIOChannel":
        credentials = credentials or {}
        jwt_key = settings.optional("SOCKETIO_JWT_KEY")
        logger.info(f"socket.io channel: JWT {'required' if jwt_key else 'off'}.")
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            credentials.get("session_persistence", False),
            credentials.get("socketio_path", "/socket.io"),
            jwt_key,
            settings.text("SOCKETIO_JWT_METHOD"),
            credentials.get("metadata_key", "metadata"),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guarded = patient_guard().wrap(on_new_message)
        emergency = EmergencyCall.from_domain()
        # cors_allowed_origins=[]: engine.io leaves CORS to Sanic, i.e. to `rasa run --cors`.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            return bool(token and decode_bearer_token(token, self.jwt_key, self.jwt_algorithm))

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None, *_extra: Any) -> None:
            session = session_id_from(data) or uuid.uuid4().hex
            if self.session_persistence:
                entered = sio.enter_room(sid, session, namespace=self.namespace)
                if inspect.isawaitable(entered):  # a coroutine from python-socketio 5.9 on
                    await entered
            await sio.emit("session_confirm", session, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None, *_extra: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.warning("socket.io: an event that is not a message object was ignored.")
                return
            if self.session_persistence:
                sender = session_id_from(data)
                if sender is None:
                    logger.warning("socket.io: a message without a valid session id was ignored.")
                    return
            else:
                sender = sid
            await guarded(
                UserMessage(
                    data.get("message") or "",
                    WidgetOutput(sio, self.bot_message_evt, emergency),
                    sender,
                    input_channel=self.name(),
                    metadata=metadata_from(data, self.metadata_key),
                )
            )

        return webhook
