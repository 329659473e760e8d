"""Start the Rasa server the way every setting of the deployment asks, from the environment:
`make run`, the tests, the load test and the container all start it with `python -m scripts.rasa_server`.

  RASA_PORT, RASA_INTERFACE   where it listens (default 5005 on 127.0.0.1)
  MODEL                       the trained model (default models/knee-assistant.tar.gz)
  CORS_ORIGINS                space-separated origins allowed to call it from a browser (the clinic's
                              website); unset, no cross-origin call is allowed. "*" is refused.
  RASA_API_TOKEN              turns Rasa's HTTP API on, protected by this token; or
  RASA_JWT_SECRET             turns it on protected by JWTs signed with this secret
                              (RASA_JWT_METHOD, default HS256). With neither, the API is off: only
                              the channels' webhooks and the status page answer.
  SANIC_BACKLOG               connections waiting to be accepted (default here 1024, Rasa's 100):
                              socket.io long-polling opens a connection per request, and at 200
                              widget users behind nginx a queue of 100 overflowed and dropped
                              sockets (scripts/load_test.py); the kernel caps it at somaxconn.
  ACTION_TIMEOUT_SECONDS      how long a custom action may take before the guard answers (default 4)
  MALLOC_MMAP_THRESHOLD_      glibc's: unset, this server fixes it at 128 KiB (below).
Stock `rasa run --enable-api` without a token opens every conversation to anyone who can reach the
port. The token is handed to Rasa inside this process rather than on a command line, where `ps`
would show it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rasa_arguments(env: "os._Environ[str] | dict") -> list:
    origins = (settings.optional("CORS_ORIGINS", env) or "").split()
    if "*" in origins:
        raise SystemExit("CORS_ORIGINS may not be '*': name the clinic's website origins.")
    args = [
        "run",
        "--model",
        settings.text("MODEL", env),
        "--endpoints",
        "endpoints.yml",
        "--credentials",
        "credentials.yml",
        "--port",
        settings.text("RASA_PORT", env),
        "--interface",
        settings.text("RASA_INTERFACE", env),
    ]
    if origins:
        args += ["--cors", *origins]
    token, jwt_secret = settings.optional("RASA_API_TOKEN", env), settings.optional("RASA_JWT_SECRET", env)
    if token:
        args += ["--enable-api", "--auth-token", token]
    elif jwt_secret:
        args += ["--enable-api", "--jwt-secret", jwt_secret, "--jwt-method", settings.text("RASA_JWT_METHOD", env)]
    return args


def validate_action_responses_with_one_validator() -> None:
    """Rasa checks every action server response against its JSON schema with `jsonschema.validate`,
    which first re-checks the schema itself and builds a new validator: at 20 concurrent
    conversations that was 14% of the Rasa server's CPU. The same schema, the same validation and
    the same error, with one validator built once."""
    import functools

    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result

    @functools.lru_cache(maxsize=1)
    def validator():
        schema = RemoteAction.action_response_format_spec()
        return validator_for(schema)(schema)

    def validate(self: RemoteAction, result: dict) -> bool:
        try:
            validator().validate(result)
            return True
        except ValidationError:
            return original(self, result)  # Rasa's own error message, with its link to the docs

    RemoteAction._validate_action_result = validate


# glibc's mallopt() parameter number for the size above which an allocation gets its own mapping.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_blocks_to_the_system() -> bool:
    """Fix glibc's mmap threshold at its starting value, 128 KiB. By default glibc raises it each time
    a large block is freed (up to 32 MiB), and from then on keeps blocks that size in the heap after
    they are freed. Loading the model frees many such blocks (the archive, TensorFlow's graph, the
    compiled lexicons), so about 35 MiB stayed resident for the server's whole life; `make
    benchmark` shows the difference. Called before anything is loaded. False where the C library is
    not glibc, or the environment already sets the threshold."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def give_up_on_slow_actions(env: "os._Environ[str] | dict") -> float:
    """Rasa 3.6 waits 5 minutes for a custom action and has no setting for it: the module constant is
    read each time an action runs. A patient should hear back within seconds, so a slow action server
    is given up on after ACTION_TIMEOUT_SECONDS (default 4) and the guard's reply goes out instead
    (channels/guard.py, whose turn deadline is 8 s)."""
    import rasa.core.actions.action

    seconds = settings.seconds("ACTION_TIMEOUT_SECONDS", env)
    rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = seconds
    return seconds


def main() -> None:
    return_large_blocks_to_the_system()
    give_up_on_slow_actions(os.environ)
    os.chdir(ROOT)
    # Sanic reads it from the environment itself.
    os.environ["SANIC_BACKLOG"] = settings.text("SANIC_BACKLOG")
    args = rasa_arguments(os.environ)
    api = "off" if "--enable-api" not in args else ("token" if "--auth-token" in args else "JWT")
    logging.basicConfig(level=logging.INFO)
    logging.getLogger(__name__).info(f"HTTP API {api}; CORS origins: {settings.optional('CORS_ORIGINS') or 'none'}")
    validate_action_responses_with_one_validator()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
