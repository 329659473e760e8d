"""scripts/rasa_server.py's changes to how Rasa runs: action server responses are validated with one
prebuilt validator (validation itself must not change), and freed large blocks go back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from scripts.rasa_server import validate_action_responses_with_one_validator
from tests.conftest import ROOT


@pytest.fixture
def action():
    original = RemoteAction._validate_action_result
    validate_action_responses_with_one_validator()
    yield RemoteAction("action_answer_from_articles", EndpointConfig("http://127.0.0.1:1/webhook"))
    RemoteAction._validate_action_result = original


def test_a_well_formed_response_passes(action):
    assert action._validate_action_result(
        {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hello"}]}
    )


@pytest.mark.parametrize(
    "response",
    [
        {"events": "not a list"},
        {"events": [{"name": "x"}]},  # an event without its type
        {"events": [{"event": 5}]},  # a type that is not a string
    ],
)
def test_a_malformed_response_is_refused_with_rasas_message(action, response):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(response)


# Frees an 8 MiB block (glibc then raises its mmap threshold past 8 MiB unless it is fixed), then
# touches and frees a second one, and prints how much of it stayed resident, in KiB. With "fix", it
# first calls the server's fix.
KEPT_AFTER_FREE = """
import ctypes, sys
from scripts.rasa_server import return_large_blocks_to_the_system
print(return_large_blocks_to_the_system() if sys.argv[1] == "fix" else "glibc's default")
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
def rss_kib():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
size = 8 << 20
libc.free(libc.malloc(size))
before = rss_kib()
block = libc.malloc(size)
libc.memset(block, 1, size)
libc.free(block)
print(rss_kib() - before)
"""


def kept_after_free(how: str, **env: str) -> tuple:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run(
        [sys.executable, "-c", KEPT_AFTER_FREE, how],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_large_blocks_go_back_to_the_system():
    fixed, kept_kib = kept_after_free("fix")
    assert fixed == "True" and kept_kib < 1024
    # Without the fix, glibc keeps the second block in its heap.
    assert kept_after_free("default")[1] > 4096


def test_an_allocator_setting_from_the_environment_is_left_alone():
    assert kept_after_free("fix", MALLOC_MMAP_THRESHOLD_="262144")[0] == "False"


def test_a_slow_action_server_is_given_up_on_after_the_configured_seconds(monkeypatch):
    import rasa.core.actions.action

    from scripts.rasa_server import give_up_on_slow_actions

    monkeypatch.setattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT", 300)
    assert give_up_on_slow_actions({"ACTION_TIMEOUT_SECONDS": "2.5"}) == 2.5
    assert rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT == 2.5
    assert give_up_on_slow_actions({}) == 4.0


def test_importing_the_channels_changes_no_rasa_setting():
    """The action timeout is set when the server starts, not as a side effect of an import."""
    probe = (
        "import rasa.core.actions.action as action; before = action.DEFAULT_REQUEST_TIMEOUT; "
        "import channels.guard, channels.socketio, channels.rest; "
        "print(before, action.DEFAULT_REQUEST_TIMEOUT)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    before, after = out.stdout.split()
    assert before == after
