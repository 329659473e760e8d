"""Shared fixtures: the action-test trio (tracker, dispatcher, domain), as in RasaHQ/rasa-demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from harness.domain import load_domain

ROOT = Path(__file__).resolve().parent.parent

# A passing test must have checked something that could fail (tests/assertion_audit.py).
pytest_plugins = ("tests.assertion_audit",)


def initial_slots(domain: Dict[str, Any]) -> Dict[str, Any]:
    """Slot values at the start of a conversation, as Rasa sends them to the action server."""
    return {name: spec.get("initial_value") for name, spec in domain.get("slots", {}).items()}


def user_event(
    text: str,
    intent: str,
    confidence: float = 0.95,
    entities: Optional[List[dict]] = None,
    ranking: Optional[List[dict]] = None,
    findings: Optional[Dict[str, Any]] = None,
    topic_choice: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """A user message as the action server receives it; `findings` is the finding extractor's record
    ({"present": [...], "absent": [...], "unsure": [...]}), `topic_choice` the topic resolver's."""
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": entities or [],
    }
    if findings is not None:
        parse_data["findings"] = findings
    if topic_choice is not None:
        parse_data["topic_choice"] = topic_choice
    return {"event": "user", "text": text, "parse_data": parse_data}


def make_tracker(
    domain: Dict[str, Any],
    text: str = "hello",
    intent: str = "greet",
    *,
    history: Optional[List[dict]] = None,
    slots: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = None,
    **parse,
) -> Tracker:
    """A tracker whose latest message is `text`, classified as `intent`."""
    latest = user_event(text, intent, **parse)
    events = list(history or []) + [latest]
    return Tracker(
        sender_id="test-patient",
        slots={**initial_slots(domain), **(slots or {})},
        latest_message=latest["parse_data"],
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


@pytest.fixture(scope="session")
def trained_agent():
    """The trained model, loaded in-process as the server loads it (`make train` builds it)."""
    from scripts.nlu_eval import load_agent

    return load_agent()


@pytest.fixture
def domain() -> Dict[str, Any]:
    return load_domain()


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def tracker(domain) -> Tracker:
    return make_tracker(domain)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    """The action server and the Rasa server, started for a test module (harness/servers.py). Modules
    that need other settings (a fake Telegram, CORS for a page) define their own."""
    from harness.servers import Assistant

    running = Assistant(tmp_path_factory.mktemp("assistant")).start()
    yield running
    running.stop()
