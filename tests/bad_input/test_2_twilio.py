"""Twilio (SMS, WhatsApp): signed and unsigned requests."""

from __future__ import annotations

import uuid

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.bad_input.strategies import (
    AUTH_TOKEN,
    CHARS,
    content_types,
    examples,
    long_text,
    messages,
)
from tests.bad_input.support import (
    LateTurns,
    check,
    new_phone,
    refusal,
    signed_twilio,
    stored_once,
    twilio_conversation,
    twilio_url,
    twiml_messages,
    user_events,
)

pytestmark = pytest.mark.slow


# --- Twilio -------------------------------------------------------------------------------------
# Values are never empty here: blank parameters have a test of their own.
nonblank = st.text(CHARS, min_size=1, max_size=40)
twilio_extra = st.dictionaries(
    st.text(CHARS, min_size=1, max_size=12).filter(lambda key: key not in ("From", "Body")), nonblank, max_size=4
)


def test_twilio_signed_any_body_is_answered_and_stored_exactly_once(assistant, service):
    late_turns = LateTurns()

    @examples(50)
    @given(
        body=messages.filter(lambda text: text != ""),
        prefix=st.sampled_from(["", "whatsapp:", "messenger:"]) | nonblank,
        extra=twilio_extra,
    )
    def any_body(body, prefix, extra):
        sender = prefix + new_phone()
        response = signed_twilio(assistant, {**extra, "From": sender, "To": "+15550100", "Body": body})
        check(response)
        assert response.status_code == 200 and "xml" in response.headers["Content-Type"], response.text[:300]
        parts = twiml_messages(response)
        assert parts and all(part.strip() for part in parts), "silence"
        conversation = twilio_conversation(sender)
        expected = refusal(body)
        if expected:
            assert parts == [service[expected]]
            assert user_events(assistant, conversation) == 0
        else:
            late = service["utter_unavailable"] in parts
            late_turns.note(late)
            assert stored_once(assistant, conversation, late) == 1, "the message was lost or stored twice"

    any_body()
    late_turns.check()


twilio_forms = st.dictionaries(
    st.sampled_from(["From", "Body", "To", "MessageSid"]) | st.text(CHARS, max_size=8),
    st.text(CHARS, max_size=60) | long_text(high=20_000),
    max_size=5,
)


@examples(60)
@given(
    form=twilio_forms,
    signature=st.sampled_from(["missing", "forged", "other-url", "garbage", "empty"]),
    garbage=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip),
    as_bytes=st.none() | st.binary(max_size=500),
    content_type=content_types,
)
def test_twilio_unsigned_forged_or_garbage_requests_are_refused_and_start_nothing(
    assistant, form, signature, garbage, as_bytes, content_type
):
    url = twilio_url(assistant)
    sender = "+1555-unsigned-" + uuid.uuid4().hex
    form = {**form, "From": sender}
    headers = {}
    if signature == "forged":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(url, form)
    elif signature == "other-url":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(url + "?x=1", form)
    elif signature == "garbage":
        headers["X-Twilio-Signature"] = garbage
    elif signature == "empty":
        headers["X-Twilio-Signature"] = ""
    if as_bytes is not None:  # a body that is not the form at all
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = requests.post(url, data=as_bytes, headers=headers, timeout=30)
    else:
        response = requests.post(url, data=form, headers=headers, timeout=30)
    check(response)
    assert response.status_code == 403, (response.status_code, response.text[:200])
    assert user_events(assistant, twilio_conversation(sender)) == 0 and user_events(assistant, sender) == 0
