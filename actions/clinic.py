"""Clinic settings and fixed texts, read from the domain that Rasa sends with every action call.

domain.yml is the one place for the clinic's name, phone and booking link (slots with an initial
value) and for the disclaimer and the stem cell notice (responses). Actions read them from there
rather than keeping copies, so changing the phone number is a one-line change.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping

from rasa_sdk import Tracker

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def response_variant(domain: Mapping[str, Any], name: str) -> Dict[str, Any]:
    """The first variant of a domain response (ours have one each)."""
    return domain["responses"][name][0]


def fill_slots(text: str, tracker: Tracker) -> str:
    """Fill {slot} placeholders as Rasa does for domain responses; unknown ones stay as they are."""

    def value(match: "re.Match[str]") -> str:
        slot_value = tracker.get_slot(match.group(1))
        return match.group(0) if slot_value is None else str(slot_value)

    return _PLACEHOLDER.sub(value, text)


def response_text(domain: Mapping[str, Any], name: str, tracker: Tracker) -> str:
    return fill_slots(response_variant(domain, name)["text"], tracker)


def response_buttons(domain: Mapping[str, Any], name: str) -> List[Dict[str, str]]:
    return [dict(button) for button in response_variant(domain, name).get("buttons", [])]
