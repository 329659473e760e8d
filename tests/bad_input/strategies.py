"""Hypothesis strategies and limits shared by the bad-input tests."""

from __future__ import annotations

import json
import os
import string
import tempfile
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

import settings as environment_settings  # not hypothesis' settings

# Hypothesis keeps caches in ./.hypothesis by default; the repository is no place for them.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "knee-assistant-hypothesis"))

AUTH_TOKEN = "test-auth-token"
RATE_LIMIT = "10/60"
RATE_COUNT = 10
# The channels' limits, as the server reads them (checked against the code by the `service` fixture).
MAX_CHARS = environment_settings.integer("MAX_MESSAGE_CHARS")  # channels/guard.py
MAX_BODY_BYTES = 256 * 1024  # channels/rest.py
SCALE = float(os.environ.get("BAD_INPUT_SCALE", "1"))  # more examples for a deeper local run


def examples(count: int) -> settings:
    # derandomize: the same examples on every run and in CI; database=None: no example database.
    return settings(
        max_examples=max(1, int(count * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- strategies ---------------------------------------------------------------------------------
# Every code point a UTF-8 channel can carry. Lone surrogates (JSON can spell them, "\ud800") are
# left out here: they have tests of their own (text and sender).
CHARS = st.characters(exclude_categories=["Cs"])
BMP = st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF)
SPECIALS = [
    "\x00",
    "\x01",
    "\x07",
    "\x08",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x1c",
    "\x1f",
    "\x7f",
    "\x85",
    "\xa0",
    "\u00ad",
    "\u034f",
    "\u061c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2028",
    "\u2029",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2060",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u3000",
    "\ufeff",
    "\ufffc",
    "\ufffd",
    "\uffff",
    "\U000e0001",
    "\U0010fffd",
    "😀",
    "👍🏽",
    "👨‍👩‍👧",
    "🇬🇧",
    "e\u0301",
    "ﷺ",
    "𝕂𝕟𝕖𝕖",
    "ق",
    "שלום",
    "日本語",
    "Ω",
    "ǅ",
    "İ",
    "/",
    "/restart",
    "{",
    "}",
    '"',
    "\\",
    "<script>",
    "%s",
    "{0}",
    "${x}",
    "' OR 1=1 --",
    "../../etc/passwd",
    "\\u0000",
    "&amp;",
    "]]>",
    "+",
    "&",
    "=",
]
WORDS = ["knee", " pain", " hello", " cost", " stem cell", " swollen", " 1", " yes", " ", "?"]
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"

unicode_text = st.one_of(
    st.text(CHARS, max_size=120),
    st.lists(st.one_of(st.sampled_from(SPECIALS), st.text(CHARS, max_size=4), st.sampled_from(WORDS)), max_size=25).map(
        "".join
    ),
)
blank_text = st.text(st.sampled_from(WHITESPACE), max_size=40)


def repeat_to(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def long_text(alphabet=CHARS, low: int = MAX_CHARS + 1, high: int = 100_000):
    """Up to 100 kB without drawing every character: a short unit repeated."""
    units = st.one_of(
        st.text(alphabet, min_size=1, max_size=6), st.sampled_from(["knee pain ", "a", "é", "😀", "\x00"])
    )
    return st.builds(repeat_to, units, st.integers(low, high))


boundary_text = st.builds(
    repeat_to, st.sampled_from(["a", "é", "😀", "knee ", "\u200b", " a"]), st.integers(MAX_CHARS - 2, MAX_CHARS + 2)
)
# Any text a patient could send: the channel must answer it, store it once, or refuse it politely.
messages = st.one_of(unicode_text, blank_text, st.just(""), boundary_text, long_text())

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(CHARS, max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(CHARS, max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(CHARS, max_size=10), json_values, max_size=4)

CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "text/plain; charset=utf-16",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "image/png",
    "",
    "*/*",
    "application/xml",
    "application/json; boundary=\x7f",
]
content_types = st.one_of(
    st.sampled_from(CONTENT_TYPES),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(str.strip),
)


def encodings_of(text: str) -> st.SearchStrategy[bytes]:
    def encode(codec: str) -> bytes:
        return text.encode(codec, "replace")

    return st.sampled_from(["utf-8", "utf-16", "utf-32-be", "latin-1", "cp1252", "utf-8-sig"]).map(encode)


# --- REST bodies and Rasa server paths (the REST, socket.io and action-server tests use them) ---
rest_fields = st.fixed_dictionaries(
    {},
    optional={
        "sender": st.one_of(json_values, st.text(CHARS, max_size=200), blank_text),
        "message": st.one_of(json_values, messages),
        "metadata": st.one_of(json_values, json_objects),
        "input_channel": json_values,
    },
)
rest_json = st.one_of(json_values, rest_fields).map(json.dumps)
rest_bodies = st.one_of(
    rest_json.map(str.encode),
    rest_json.flatmap(lambda text: st.integers(0, max(len(text) - 1, 0)).map(lambda cut: text[:cut].encode())),
    rest_json.flatmap(encodings_of),
    st.binary(max_size=2000),
    st.sampled_from(
        [
            b"",
            b" ",
            b"null",
            b"{}",
            b"[]",
            b'""',
            b"0",
            b"NaN",
            b"{,}",
            b'{"sender": "x",}',
            b"\xef\xbb\xbf{}",
            b'{"sender": "a", "sender": 5}',
            b"\x00" * 64,
            b"x" * (MAX_BODY_BYTES + 1),
        ]
    ),
    # Nesting stays shallow here: deep nesting has a test of its own.
    st.integers(1, 60).map(
        lambda depth: b'{"sender": "nest", "metadata": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    ),
)


RASA_PATHS = [
    "/",
    "/webhooks/rest/",
    "/webhooks/rest",
    "/webhooks/rest/webhook",
    "/webhooks/twilio/",
    "/webhooks/twilio/webhook",
    "/webhooks/telegram/",
    "/webhooks/telegram/webhook",
    "/webhooks/socketio/",
    "/webhooks/nope/webhook",
    "/webhooks/",
    "/webhooks/rest/webhook/extra",
    "/webhooks/callback/webhook",
]
API_PATHS = [
    "/status",
    "/version",
    "/domain",
    "/model/parse",
    "/conversations/x/tracker",
    "/conversations/x/tracker/events",
    "/conversations/x/messages",
    "/model",
    "/model/predict",
]
HEALTH = {"/webhooks/rest/", "/webhooks/twilio/", "/webhooks/telegram/"}
WEBHOOKS = {"/webhooks/rest/webhook", "/webhooks/twilio/webhook", "/webhooks/telegram/webhook"}
segment = st.one_of(
    st.text(st.sampled_from(string.ascii_letters + string.digits + "-_.~%;,!$'()*+="), max_size=12),
    st.text(CHARS, max_size=8).map(lambda text: quote(text, safe="")),
)
paths = st.one_of(
    st.sampled_from(RASA_PATHS + API_PATHS),
    st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts)),
)
queries = st.one_of(
    st.just(""),
    st.dictionaries(st.text(CHARS, max_size=8), st.text(CHARS, max_size=20), max_size=3).map(
        lambda params: "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())
    ),
)
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND", "FOO"]
# Well-formed Accept headers only: malformed ones have a test of their own.
ACCEPTS = [None, "application/json", "text/html", "*/*", "text/plain;q=0.5, application/json", "application/xml"]
