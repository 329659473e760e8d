"""Error pages without internals, for the Rasa server and the action server.

Sanic 21.12 (Rasa 3.6's) renders its error pages according to the request's Accept header, and a
malformed header (`Accept: *`) makes that rendering fail: the client gets a 500 "An error occurred
while handling an error" instead of the 404 or 405. rasa-sdk answers any request it cannot handle
with a 500 that quotes the exception and echoes the request body (a whole conversation). Here every
error is a small JSON object: the reason for a client error, "internal error" for a server error,
whose type alone is logged (an exception's text can quote what a patient wrote).
"""

from __future__ import annotations

import logging

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)


def plain_error(request: Request, exception: Exception) -> HTTPResponse:
    status = exception.status_code if isinstance(exception, SanicException) else 500
    if status >= 500:
        logger.error(f"{request.method} {request.path}: {type(exception).__name__}")
        return response.json({"error": "internal error"}, status=status)
    return response.json({"error": str(exception)}, status=status)


def use_plain_errors(app: Sanic) -> None:
    """Every error without a handler of its own (Rasa's API keeps its handlers) gets `plain_error`."""
    handler = app.error_handler
    while hasattr(handler, "orig_handler"):  # Sanic-CORS wraps the app's handler in its own
        handler = handler.orig_handler
    handler.default = plain_error  # type: ignore[method-assign]  # Sanic calls the instance's attribute
