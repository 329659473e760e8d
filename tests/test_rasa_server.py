"""scripts/rasa_server.py's one change to Rasa's behaviour at run time: action server responses are
validated with one prebuilt validator. Validation itself must not change."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from scripts.rasa_server import validate_action_responses_with_one_validator


@pytest.fixture
def action():
    original = RemoteAction._validate_action_result
    validate_action_responses_with_one_validator()
    yield RemoteAction("action_answer_from_articles", EndpointConfig("http://127.0.0.1:1/webhook"))
    RemoteAction._validate_action_result = original


def test_a_well_formed_response_passes(action):
    assert action._validate_action_result({"events": [{"event": "slot", "name": "x", "value": 1}],
                                           "responses": [{"text": "hello"}]})


@pytest.mark.parametrize("response", [
    {"events": "not a list"},
    {"events": [{"name": "x"}]},          # an event without its type
    {"events": [{"event": 5}]},          # a type that is not a string
])
def test_a_malformed_response_is_refused_with_rasas_message(action, response):
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result(response)
