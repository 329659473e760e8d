"""After all the bad input (the files run in the order of their numbers): both servers still
answer, and their logs hold no traceback but the known ones."""

from __future__ import annotations

import collections
import json
import re
import uuid
from typing import Dict, List, Optional

import pytest
import requests

from harness.servers import ROOT
from tests.bad_input.support import (
    CHAT_IDS,
    actions_url,
    eventually,
    new_phone,
    sent_to,
    signed_twilio,
    socket_connection,
    telegram,
    telegram_secret,
    telegram_update,
    texts,
    twiml_messages,
)

pytestmark = pytest.mark.slow


# --- afterwards ---------------------------------------------------------------------------------
def test_both_servers_still_answer_on_every_channel_after_the_bad_input(assistant, fake_telegram, socket_loop):
    assert assistant.rasa.proc.poll() is None and assistant.actions.proc.poll() is None
    status = requests.get(assistant.url + "/", timeout=10)
    assert status.status_code == 200 and status.text.startswith("Hello from Rasa")
    assert requests.get(actions_url(assistant) + "/health", timeout=10).json() == {"status": "ok"}
    question = "How much does stem cell therapy cost?"
    answer = texts(assistant.say("after-" + uuid.uuid4().hex, question))  # the article answer: a custom action
    assert "$5000" in "\n".join(answer)
    sms = signed_twilio(assistant, {"From": new_phone(), "To": "+15550100", "Body": question})
    assert sms.status_code == 200 and "$5000" in twiml_messages(sms)[0]
    chat_id = next(CHAT_IDS)
    assert (
        telegram(
            assistant, json.dumps(telegram_update(chat_id, question)).encode(), telegram_secret(fake_telegram)
        ).text
        == "ok"
    )
    assert "$5000" in sent_to(fake_telegram, chat_id)[0]
    session = "s-" + uuid.uuid4().hex
    with socket_connection(socket_loop, assistant) as connection:
        connection.session(session)
        connection.emit("user_uttered", {"message": question, "session_id": session})
        assert eventually(lambda: "$5000" in "\n".join(texts(connection.replies)), 30)


# What the servers log with a traceback for the requests above, though the client gets a clean
# answer: the libraries log what they reject. Anything else fails the test below.
LOGGED_BY_LIBRARIES = [
    ("rasa", "Sanic: a form it cannot parse (Twilio junk; the client gets 403)", r"Failed when parsing form"),
    (
        "rasa",
        "python-engineio: a junk long-polling payload (the client gets 200 or 400)",
        r"post request handler error",
    ),
    ("rasa", "python-socketio: a junk socket.io packet (ignored)", r"message async handler error"),
]
KNOWN_BUGS = [
    ("rasa", "KB8 engine.io: POST to a closed session", r"KeyError: 'Session is disconnected'"),
]
OUR_CODE = re.compile(r'File "' + re.escape(str(ROOT)) + r"/(?!\.venv/)")
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def tracebacks(log: str) -> List[str]:
    """Each traceback in a log (a chained one whole), with the two lines before it."""
    lines = log.splitlines()
    found = []
    index = 0
    while index < len(lines):
        if not lines[index].startswith("Traceback (most recent call last):"):
            index += 1
            continue
        start = index
        while True:
            end = index + 1  # frames are indented; the exception's own line is not
            while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
                end += 1
            after = end + 1
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and lines[after].startswith(CHAINED):
                index = after
                while index < len(lines) and not lines[index].startswith("Traceback"):
                    index += 1
                continue
            break
        found.append("\n".join(lines[max(0, start - 2) : end + 1]))
        index = end + 1
    return found


def classify(log_name: str, traceback: str) -> Optional[str]:
    """The known kind of a logged traceback, or None. One through the project's own code is only
    ever a known bug."""
    kinds = KNOWN_BUGS + ([] if OUR_CODE.search(traceback) else LOGGED_BY_LIBRARIES)
    return next((kind for log, kind, pattern in kinds if log == log_name and re.search(pattern, traceback)), None)


def test_the_servers_log_no_traceback_but_the_known_ones(assistant):
    seen: Dict[str, int] = collections.Counter()
    unknown = []
    for name, log in (("rasa", assistant.rasa.log()), ("actions", assistant.actions.log())):
        for traceback in tracebacks(log):
            kind = classify(name, traceback)
            if kind:
                seen[f"{name}.log: {kind}"] += 1
            else:
                unknown.append(f"--- {name}.log\n{traceback}")
    print("\nTracebacks in the server logs, by kind:\n" + "\n".join(f"  {n:4d}  {k}" for k, n in sorted(seen.items())))
    assert not unknown, "unexpected tracebacks in the server logs:\n" + "\n".join(unknown[:10])
