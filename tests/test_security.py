"""The server's exposure: Rasa's HTTP API off unless asked for, and then only with its token or a JWT;
CORS only for the configured origins; the action server reading only well-formed action calls;
socket.io with a JWT when SOCKETIO_JWT_KEY is set; and no message text in the logs at the default (INFO) level."""

from __future__ import annotations

import asyncio
import time
import zlib

import jwt
import pytest
import requests

from harness.patients import new_sender, texts
from harness.servers import Assistant
from scripts.action_server import action_call_problem
from scripts.rasa_server import rasa_arguments

CLINIC = "https://clinic.example"
API_TOKEN = "test-api-token-" + "x" * 16
JWT_SECRET = "test-jwt-secret-" + "y" * 16
SOCKETIO_KEY = "test-socketio-key-" + "z" * 16
# A word that no log line would contain unless the message text were logged.
MARKER = "zebracrossingstairs"


def test_the_api_is_off_unless_a_token_or_a_jwt_secret_is_given():
    assert "--enable-api" not in rasa_arguments({})
    with_token = rasa_arguments({"RASA_API_TOKEN": "t"})
    assert with_token[with_token.index("--enable-api") + 1 :][:2] == ["--auth-token", "t"]
    with_jwt = rasa_arguments({"RASA_JWT_SECRET": "s"})
    assert "--enable-api" in with_jwt and with_jwt[with_jwt.index("--jwt-secret") + 1] == "s"


def test_cors_is_only_for_named_origins():
    assert "--cors" not in rasa_arguments({})
    args = rasa_arguments({"CORS_ORIGINS": "https://a.example https://b.example"})
    assert args[args.index("--cors") + 1 :][:2] == ["https://a.example", "https://b.example"]
    with pytest.raises(SystemExit):
        rasa_arguments({"CORS_ORIGINS": "https://a.example *"})


@pytest.mark.parametrize(
    "body, encoding, problem",
    [
        (b'{"next_action": "action_x", "tracker": {"sender_id": "a"}}', None, False),
        (b"[]", None, True),
        (b'"x"', None, True),
        (b"not json", None, True),
        (b"[" * 5000, None, True),
        (b'{"next_action": "action_x", "tracker": null}', None, True),
        (b'{"next_action": 5, "tracker": {}}', None, True),
        (zlib.compress(b'{"next_action": "a", "tracker": {}}'), "deflate", False),
        (b"not deflated", "deflate", True),
    ],
)
def test_the_action_server_checks_an_action_call_before_rasa_sdk_reads_it(body, encoding, problem):
    assert (action_call_problem(body, encoding) is not None) is problem


@pytest.fixture(scope="module")
def with_token(tmp_path_factory):
    running = Assistant(
        tmp_path_factory.mktemp("api-token"), extra_env={"RASA_API_TOKEN": API_TOKEN, "CORS_ORIGINS": CLINIC}
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def with_jwt(tmp_path_factory):
    running = Assistant(
        tmp_path_factory.mktemp("api-jwt"), extra_env={"RASA_JWT_SECRET": JWT_SECRET, "SOCKETIO_JWT_KEY": SOCKETIO_KEY}
    )
    running.start_rasa()
    yield running
    running.stop()


@pytest.mark.slow
def test_the_api_answers_only_with_its_token(with_token):
    sender = new_sender("api")
    with_token.say(sender, "hello")
    tracker = f"{with_token.url}/conversations/{sender}/tracker"
    assert requests.get(tracker, timeout=10).status_code == 401
    assert requests.get(tracker, params={"token": "wrong"}, timeout=10).status_code == 401
    answer = requests.get(tracker, params={"token": API_TOKEN}, timeout=10)
    assert answer.status_code == 200 and answer.json()["sender_id"] == sender


@pytest.mark.slow
def test_the_api_answers_only_with_a_jwt_signed_with_its_secret(with_jwt):
    sender = new_sender("jwt")
    with_jwt.say(sender, "hello")
    tracker = f"{with_jwt.url}/conversations/{sender}/tracker"
    good = jwt.encode({"user": {"username": "staff", "role": "admin"}}, JWT_SECRET, algorithm="HS256")
    forged = jwt.encode({"user": {"username": "staff", "role": "admin"}}, "another-secret" * 3, algorithm="HS256")
    assert requests.get(tracker, timeout=10).status_code == 401
    assert requests.get(tracker, headers={"Authorization": f"Bearer {forged}"}, timeout=10).status_code == 401
    assert requests.get(tracker, headers={"Authorization": f"Bearer {good}"}, timeout=10).status_code == 200


@pytest.mark.slow
def test_cors_allows_the_clinic_origin_only(with_token):
    def allowed(origin):
        reply = requests.options(
            f"{with_token.url}/webhooks/rest/webhook",
            timeout=10,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        return reply.headers.get("Access-Control-Allow-Origin")

    assert allowed(CLINIC) == CLINIC
    assert allowed("https://evil.example") is None


async def socketio_reply(url, token):
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    replies = asyncio.Queue()
    client.on("bot_uttered", lambda data: replies.put_nowait(data))
    session = new_sender("sio").replace("-", "_")
    await client.connect(url, transports=["polling"], auth={"token": token} if token else None)
    try:
        await client.emit("session_request", {"session_id": session})
        await client.emit("user_uttered", {"message": "hello", "session_id": session})
        return await asyncio.wait_for(replies.get(), 20)
    finally:
        await client.disconnect()


@pytest.mark.slow
def test_socketio_requires_a_jwt_signed_with_its_key_when_one_is_set(with_jwt):
    import socketio

    good = jwt.encode({"sub": "widget"}, SOCKETIO_KEY, algorithm="HS256")
    assert asyncio.run(socketio_reply(with_jwt.url, good)).get("text")
    for token in (None, jwt.encode({"sub": "widget"}, "not-the-key" * 3, algorithm="HS256")):
        with pytest.raises(socketio.exceptions.ConnectionError):
            asyncio.run(socketio_reply(with_jwt.url, token))


@pytest.mark.slow
def test_no_message_text_in_the_logs(with_token):
    sender = new_sender("logs")
    for message in (
        f"my knee hurts on the {MARKER}",
        f"what is {MARKER}?",
        "check my symptoms",
        f"{MARKER} yes",
        f"I fell on the {MARKER} and my knee is bent the wrong way",
        "",
    ):
        assert texts(with_token.say(sender, message))
    time.sleep(1)
    for process in (with_token.rasa, with_token.actions):
        log = process.log()
        assert "INFO" in log  # the log is at its default level, not silenced
        assert MARKER not in log
