"""The servers the bad-input tests share: one Rasa server (Twilio and Telegram on, a fake Bot API) and
one action server for the whole package, so that the last tests see the servers after all the bad input."""

from __future__ import annotations

from typing import Dict

import pytest

from harness.servers import Assistant
from tests.bad_input.strategies import (
    MAX_BODY_BYTES,
    MAX_CHARS,
)
from tests.bad_input.support import (
    SocketLoop,
    channel_env,
)
from tests.fake_telegram import FakeBotAPI


@pytest.fixture(scope="package")
def fake_telegram():
    api = FakeBotAPI().start()
    yield api
    api.stop()


@pytest.fixture(scope="package")
def assistant(tmp_path_factory, fake_telegram):
    running = Assistant(tmp_path_factory.mktemp("bad_input"), extra_env=channel_env(fake_telegram))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def service() -> Dict[str, str]:
    """The guard's replies as the server sends them, and the limits above checked against the code."""
    from channels import guard, rest
    from channels.clinic_domain import project_domain

    assert guard.MAX_MESSAGE_CHARS == MAX_CHARS and rest.MAX_BODY_BYTES == MAX_BODY_BYTES
    replies = guard.ServiceReplies(project_domain(), max_chars=MAX_CHARS)
    return {name: replies[name] for name in guard.SERVICE_REPLIES}


@pytest.fixture(scope="package")
def socket_loop():
    loop = SocketLoop()
    yield loop
    loop.close()
