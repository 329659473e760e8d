"""The backport of Sanic's WebSocket fix for Python 3.11 (channels/sanic_websockets.py).

Sanic 21.12 hands asyncio.wait a coroutine on every WebSocket message: Python 3.11 raises TypeError,
3.8-3.10 a DeprecationWarning. With warnings raised as errors, the same check fails on both without
the backport. The widget's browser test over WebSocket (tests/test_widget_browser.py) covers it
end to end."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any, List

import pytest
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.connection import State
from websockets.frames import Frame, Opcode
from websockets.server import ServerConnection

from channels import sanic_websockets


def open_websocket() -> WebsocketImplProtocol:
    """Sanic's WebSocket protocol over an open sans-I/O connection: no socket needed to receive."""
    connection = ServerConnection()
    connection.state = State.OPEN
    return WebsocketImplProtocol(connection)


async def receive(texts: List[str], burst: bool) -> List[Any]:
    websocket = open_websocket()

    async def arrive() -> None:
        for text in texts:  # put() returns once the message has been read
            await websocket.assembler.put(Frame(Opcode.TEXT, text.encode()))

    arriving = asyncio.ensure_future(arrive())
    if burst:
        await asyncio.sleep(0)  # the first message is in the assembler
        received: List[Any] = list(await websocket.recv_burst())
    else:
        received = [await websocket.recv(timeout=5) for _ in texts]
    arriving.cancel()
    return received


@pytest.mark.parametrize("burst", [False, True], ids=["recv", "recv_burst"])
def test_a_websocket_message_is_received_without_a_coroutine_passed_to_asyncio_wait(burst: bool) -> None:
    sanic_websockets.apply()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        received = asyncio.run(receive(['42["user_uttered",{}]', "2"], burst))
    assert received[0] == '42["user_uttered",{}]'
    if not burst:
        assert received == ['42["user_uttered",{}]', "2"]


def test_it_is_applied_once_and_only_to_a_sanic_without_the_fix() -> None:
    assert sanic_websockets.needs_backport("21.12.2")
    assert not sanic_websockets.needs_backport("22.3.0")
    assert not sanic_websockets.needs_backport("23.12.1")
    sanic_websockets.apply()
    first = sanic_websockets.WebsocketFrameAssembler.get
    sanic_websockets.apply()
    assert sanic_websockets.WebsocketFrameAssembler.get is first
    assert first.backported  # type: ignore[attr-defined]
