"""Start the action server (rasa-sdk, the `actions` package): `python -m scripts.action_server`.

Compared with `rasa run actions`:
  * it listens on ACTIONS_INTERFACE (default 127.0.0.1: only the Rasa server on this machine calls
    it; a container sets 0.0.0.0) and ACTIONS_PORT (5055), not on every interface;
  * no CORS: no browser has any business calling it;
  * an action call that is not one (not JSON, not an object, no action name or tracker) gets a 400
    before rasa-sdk reads it, and every other error is plain JSON without the exception text or the
    request body (channels/errors.py): rasa-sdk's own 500 echoes the whole conversation it was sent.
"""

from __future__ import annotations

import json
import logging
import zlib
from typing import Optional

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.handlers import ErrorHandler
from sanic.request import Request
from sanic.response import HTTPResponse

import settings
from channels.errors import use_plain_errors


def action_call_problem(body: bytes, content_encoding: Optional[str]) -> Optional[str]:
    """What is wrong with a POST /webhook body, or None for a well-formed action call."""
    try:
        if content_encoding == "deflate":  # rasa-sdk accepts compressed calls too
            body = zlib.decompress(body)
        call = json.loads(body)
    except (ValueError, RecursionError, zlib.error):
        return "the body must be a JSON action call"
    if (
        not isinstance(call, dict)
        or not isinstance(call.get("next_action"), str)
        or not isinstance(call.get("tracker"), dict)
    ):
        return "an action call needs 'next_action' (a name) and 'tracker' (an object)"
    return None


def create_action_server() -> Sanic:
    app = create_app("actions", cors_origins=None)
    # rasa-sdk's catch-all handler is the one that echoes the request: a new handler replaces it.
    app.error_handler = ErrorHandler()
    use_plain_errors(app)

    @app.middleware("request")
    async def check_action_call(request: Request) -> Optional[HTTPResponse]:
        if request.method == "POST" and request.path == "/webhook":
            problem = action_call_problem(request.body or b"", request.headers.get("Content-Encoding"))
            if problem:
                return response.json({"error": problem}, status=400)
        return None

    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-8s %(name)s - %(message)s")
    app = create_action_server()
    app.run(settings.text("ACTIONS_INTERFACE"), settings.integer("ACTIONS_PORT"), workers=1, access_log=False)


if __name__ == "__main__":
    main()
