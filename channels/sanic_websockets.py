"""A backport of Sanic's fix for WebSockets on Python 3.11 (sanic-org/sanic issue #2377, fixed by PR
#2383 in Sanic 22.3 and never backported to 21.12, the Sanic Rasa 3.6 pins).

Sanic 21.12's WebsocketImplProtocol.recv and recv_burst pass the coroutine
`self.assembler.get(timeout)` to asyncio.wait, which Python 3.11 forbids ("Passing coroutines is
forbidden, use tasks explicitly"; 3.8-3.10 only warn). Every socket.io message that arrives over a
WebSocket goes through recv, so on 3.11 an upgrade to WebSocket fails and the widget reconnects.
PR #2383 wraps that call in asyncio.ensure_future. Here the assembler's `get` does the same itself:
it returns a Task, which recv and recv_burst hand to asyncio.wait and which anyone else may await
as before. Nothing else of Sanic changes.

Applied once, when the widget's channel is imported (channels/socketio.py), and only to a Sanic without the
fix; on 3.10 it also silences the DeprecationWarning. tests/test_sanic_websockets.py is its
regression test.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Optional

import sanic
from sanic.server.websockets.frame import WebsocketFrameAssembler

FIXED_IN = (22, 3)


def needs_backport(version: str = sanic.__version__) -> bool:
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) < FIXED_IN


def apply() -> None:
    get = WebsocketFrameAssembler.get
    if getattr(get, "backported", False) or not needs_backport():
        return

    @functools.wraps(get)
    def get_as_task(self: WebsocketFrameAssembler, timeout: Optional[float] = None) -> "asyncio.Future[Any]":
        return asyncio.ensure_future(get(self, timeout))

    get_as_task.backported = True  # type: ignore[attr-defined]
    WebsocketFrameAssembler.get = get_as_task  # type: ignore[method-assign,assignment]
