"""Buttons and long texts on text-only channels (channels/text_options.py)."""

from __future__ import annotations

import pytest

from channels.text_options import OfferedOptions, numbered, payload_for, render, split

BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
    {"title": "Not sure", "payload": "/unsure"},
]


def test_buttons_become_numbered_options_and_no_payload_is_shown():
    text = numbered("Is the knee hot or red?", BUTTONS)
    assert "1. Yes\n2. No\n3. Not sure" in text and "/" not in text


@pytest.mark.parametrize(
    "reply,payload",
    [
        ("1", "/affirm"),
        (" 2 ", "/deny"),
        ("3.", "/unsure"),
        ("not sure", "/unsure"),
        ("Not sure!", "/unsure"),
        ("yes", "/affirm"),
        ("4", None),
        ("yes it is", None),
    ],
)
def test_a_number_or_the_options_words_map_back(reply, payload):
    assert payload_for(reply, BUTTONS) == payload


def test_offered_options_are_per_patient_and_other_replies_pass_through():
    offers = OfferedOptions()
    offers.remember("+15550001", BUTTONS)
    assert offers.resolve("+15550001", "2") == "/deny"
    assert offers.resolve("+15550002", "2") == "2"
    assert offers.resolve("+15550001", "my knee is swollen") == "my knee is swollen"


def test_offered_options_expire():
    offers = OfferedOptions(ttl_seconds=0)
    offers.remember("p", BUTTONS)
    assert offers.resolve("p", "1") == "1"


@pytest.mark.parametrize("limit", [40, 160, 1600])
def test_long_text_is_split_within_the_limit_without_losing_words(limit):
    text = "The clinic article says knee pain is common. " * 30 + "\n\n" + "Stem cells are investigational. " * 40
    parts = split(text, limit)
    assert all(len(part) <= limit for part in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_a_word_longer_than_the_limit_is_cut_rather_than_lost():
    assert "".join(split("x" * 25, 10)) == "x" * 25


def test_render_keeps_order_and_remembers_the_last_buttons():
    parts, offered = render([{"text": "Hello"}, {"text": "Pick one", "buttons": BUTTONS}], 1600)
    assert parts[0] == "Hello" and parts[1].startswith("Pick one") and offered == BUTTONS
