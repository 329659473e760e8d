"""The action server: any action call, any path and method."""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from scripts.action_server import action_call_problem
from tests.bad_input.strategies import (
    CHARS,
    METHODS,
    content_types,
    encodings_of,
    examples,
    json_objects,
    json_values,
    paths,
    rest_json,
)
from tests.bad_input.support import (
    actions_url,
    check,
)

pytestmark = pytest.mark.slow


# --- the action server --------------------------------------------------------------------------
ACTION_NAMES = [
    "action_answer_from_articles",
    "action_ask_to_clarify",
    "action_default_fallback",
    "action_start_self_check",
    "validate_self_check_form",
    "action_triage_next_steps",
    "action_self_check_summary",
    "action_self_check_stopped",
    "action_nope",
    "utter_greet",
]
action_calls = st.fixed_dictionaries(
    {},
    optional={
        "next_action": st.one_of(st.sampled_from(ACTION_NAMES), json_values),
        "sender_id": json_values,
        "tracker": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"sender_id": st.text(CHARS, max_size=20)},
                optional={
                    "slots": st.one_of(json_objects, json_values),
                    "latest_message": st.one_of(json_objects, json_values),
                    "events": st.lists(json_objects, max_size=3) | json_values,
                    "active_loop": json_values,
                    "latest_action_name": json_values,
                },
            ),
        ),
        "domain": st.one_of(json_values, json_objects),
        "version": st.one_of(st.sampled_from(["3.6.21", "0.0.1", "x"]), json_values),
    },
)
action_bodies = st.one_of(
    action_calls.map(lambda call: json.dumps(call).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=500),
    rest_json.flatmap(encodings_of),
    st.just(b"x" * 100_000),
)


@examples(100)
@given(body=action_bodies, content_type=content_types)
def test_action_server_survives_any_action_call(assistant, body, content_type):
    """A call that is not an action call gets a 400 that says why; one that is, but whose tracker or
    domain makes an action fail, a 500 that says no more than that (scripts/action_server.py). A
    malformed call never reaches an action, so it never gets a 500."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.post(actions_url(assistant) + "/webhook", data=body, headers=headers, timeout=30)
    problem = action_call_problem(body, None)
    if problem is not None:
        assert response.status_code == 400 and response.json() == {"error": problem}, response.text[:300]
    elif response.status_code >= 500:
        assert response.status_code == 500 and response.json() == {"error": "internal error"}, response.text[:300]
    else:
        check(response, body)


def test_a_well_formed_action_call_gets_its_events(assistant, domain):
    """The other side of the 500 above: a real call with a real tracker is answered, not failed."""
    call = {
        "next_action": "action_answer_from_articles",
        "sender_id": "action-call",
        "tracker": {
            "sender_id": "action-call",
            "slots": {name: spec.get("initial_value") for name, spec in domain["slots"].items()},
            "latest_message": {
                "text": "How much does stem cell therapy cost?",
                "intent": {"name": "ask_msc_cost", "confidence": 0.99},
                "intent_ranking": [{"name": "ask_msc_cost", "confidence": 0.99}],
                "entities": [],
            },
            "events": [],
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": domain,
        "version": "3.6.21",
    }
    response = requests.post(actions_url(assistant) + "/webhook", json=call, timeout=30)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["responses"], "the answer action sent nothing"


@examples(40)
@given(
    method=st.sampled_from(METHODS),
    path=st.sampled_from(["/webhook", "/health", "/actions"]) | paths,
    body=st.binary(max_size=300),
    content_type=content_types,
)
def test_action_server_any_path_and_method(assistant, method, path, body, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = requests.request(method, actions_url(assistant) + path, data=body or None, headers=headers, timeout=30)
    check(response, path)
    if method == "GET" and path == "/health":
        assert response.status_code == 200 and response.json() == {"status": "ok"}
