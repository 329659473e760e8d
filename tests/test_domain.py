"""The emergency contract, checked on the domain itself.

An emergency reply contains the emergency number and the word "emergency"; no other reply contains
the emergency number. The number (and the crisis line) is set once, as a slot's initial value in
domain/clinic.yml, next to the clinic's phone number.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, load_domain

DOMAIN = load_domain()
RESPONSES = DOMAIN["responses"]
EMERGENCY_NUMBER = DOMAIN["slots"]["emergency_number"]["initial_value"]
# The replies that name the number: the emergency replies, and the notice to a message the assistant
# cannot read (it may be an emergency: components/red_flag_policy.py).
EMERGENCY_RESPONSES = {"utter_emergency", "utter_emergency_crisis", "utter_level_emergency", "utter_language_not_read"}


def texts(name):
    return [variant.get("text", "") for variant in RESPONSES[name]]


@pytest.mark.parametrize("name", sorted(EMERGENCY_RESPONSES))
def test_emergency_replies_carry_the_number_and_the_word(name):
    for text in texts(name):
        assert "{emergency_number}" in text and "emergency" in text.lower()


@pytest.mark.parametrize("name", sorted(set(RESPONSES) - EMERGENCY_RESPONSES))
def test_no_other_reply_names_the_emergency_number(name):
    for text in texts(name):
        assert "{emergency_number}" not in text and EMERGENCY_NUMBER not in text


def test_the_crisis_reply_gives_the_crisis_line():
    assert all("{crisis_line}" in text for text in texts("utter_emergency_crisis"))


def test_the_notice_for_a_message_it_cannot_read_gives_the_crisis_line_too():
    """A crisis in a language it does not read gets this notice (the blind rounds count it)."""
    assert all("{crisis_line}" in text for text in texts("utter_language_not_read"))


def test_the_numbers_are_set_in_one_place():
    assert EMERGENCY_NUMBER == "911" and DOMAIN["slots"]["crisis_line"]["initial_value"] == "988"
    # The widget reads the number from the server's emergency replies (channels/socketio.py).
    sources = [
        *ROOT.glob("domain/*.yml"),
        *ROOT.glob("actions/**/*.py"),
        *ROOT.glob("clinical/content/*.yml"),
        *ROOT.glob("components/*.py"),
        *ROOT.glob("channels/*.py"),
        *ROOT.glob("web/widget/*"),
        *ROOT.glob("web/demo/*"),
    ]
    holders = [p.relative_to(ROOT).as_posix() for p in sources if re.search(r"\b911\b", p.read_text())]
    assert holders == ["domain/clinic.yml"]
