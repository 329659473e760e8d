"""End to end on the messaging channels: Twilio (signed webhooks, TwiML replies) and Telegram
(a round trip through a fake Bot API on loopback), against the real Rasa and action servers."""

from __future__ import annotations

import sqlite3
import uuid
import xml.etree.ElementTree as ElementTree

import pytest
import requests
from twilio.request_validator import RequestValidator

from channels.twilio import TwilioChannel
from harness.domain import load_domain
from harness.servers import Assistant
from tests.fake_telegram import FakeBotAPI

pytestmark = pytest.mark.slow
AUTH_TOKEN = "test-auth-token"
EMERGENCY_NUMBER = load_domain()["slots"]["emergency_number"]["initial_value"]
COST_QUESTION = "How much does stem cell therapy cost?"


@pytest.fixture(scope="module")
def fake_telegram():
    api = FakeBotAPI().start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, fake_telegram):
    running = Assistant(
        tmp_path_factory.mktemp("channels"),
        extra_env={
            "TWILIO_ACCOUNT_SID": "ACtest",
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_NUMBER": "+15550100",
            "TELEGRAM_TOKEN": "123456:TEST",
            "TELEGRAM_WEBHOOK_URL": "https://clinic.example/webhooks/telegram/webhook",
            "TELEGRAM_API_URL": fake_telegram.url,
        },
    ).start()
    yield running
    running.stop()


def twilio(assistant, sender, body, signature="valid"):
    url = assistant.url + "/webhooks/twilio/webhook"
    params = {"From": sender, "To": "+15550100", "Body": body, "MessageSid": "SM" + uuid.uuid4().hex}
    headers = {}
    if signature == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    elif signature == "forged":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(url, params)
    return requests.post(url, data=params, headers=headers, timeout=30)


def twiml_messages(reply):
    return [message.text or "" for message in ElementTree.fromstring(reply.text).iter("Message")]


def telegram_update(chat_id, text):
    return {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": text,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Pat"},
        },
    }


def registered_secret(fake):
    """The secret token the channel registered with setWebhook, which Telegram sends back."""
    return next(c["params"]["secret_token"] for c in fake.calls if c["method"] == "setWebhook")


def telegram(assistant, fake, chat_id, text):
    before = len(fake.sent_to(chat_id))
    reply = requests.post(
        assistant.url + "/webhooks/telegram/webhook",
        json=telegram_update(chat_id, text),
        headers={"X-Telegram-Bot-Api-Secret-Token": registered_secret(fake)},
        timeout=30,
    )
    assert reply.status_code == 200
    return fake.sent_to(chat_id)[before:]


def stored_events(assistant, sender_id):
    with sqlite3.connect(assistant.tracker_db) as db:
        return [data for (data,) in db.execute("SELECT data FROM events WHERE sender_id = ?", (sender_id,))]


def conversations(assistant, phone):
    """Events stored for this phone number's conversation (kept under a keyed hash of the number)."""
    return len(stored_events(assistant, TwilioChannel(AUTH_TOKEN, "+15550100").conversation_id(phone)))


def new_phone():
    return "+1555" + str(uuid.uuid4().int)[:7]


def test_a_signed_twilio_message_gets_the_answer_in_twiml(assistant):
    reply = twilio(assistant, new_phone(), COST_QUESTION)
    assert reply.status_code == 200 and "xml" in reply.headers["Content-Type"]
    messages = twiml_messages(reply)
    assert "Source" in messages[0] and "1. Check my symptoms" in messages[0]
    assert not any("/" + "book_consultation" in m or "/start_self_check" in m for m in messages)


@pytest.mark.parametrize("signature", ["missing", "forged"])
def test_an_unsigned_or_forged_twilio_request_is_rejected_and_starts_no_conversation(assistant, signature):
    sender = new_phone()
    reply = twilio(assistant, sender, COST_QUESTION, signature=signature)
    assert reply.status_code == 403
    assert conversations(assistant, sender) == 0


def test_numbered_options_map_back_on_sms(assistant):
    sender = new_phone()
    greeting = twiml_messages(twilio(assistant, sender, "hello"))
    assert "1. Check my symptoms" in greeting[-1]
    started = twiml_messages(twilio(assistant, sender, "1"))
    assert "16 or older" in started[-1] and "1. Yes\n2. No\n3. Not sure" in started[-1]
    assert "injury" in twiml_messages(twilio(assistant, sender, "yes"))[-1]


def test_the_emergency_comes_first_on_sms_and_whatsapp(assistant):
    for sender in (new_phone(), "whatsapp:" + new_phone()):
        first = twiml_messages(twilio(assistant, sender, "hi, I fell off a ladder and my knee is bent the wrong way"))[
            0
        ]
        assert EMERGENCY_NUMBER in first and "emergency" in first.lower()


def test_the_phone_number_is_not_stored(assistant):
    phone = new_phone()
    twilio(assistant, phone, "hello")
    conversation = TwilioChannel(AUTH_TOKEN, "+15550100").conversation_id(phone)
    assert conversation.startswith("sms-") and phone[1:] not in conversation
    assert stored_events(assistant, conversation) and stored_events(assistant, phone) == []
    with sqlite3.connect(assistant.tracker_db) as db:
        assert not db.execute(
            "SELECT 1 FROM events WHERE sender_id LIKE ? OR data LIKE ?", (f"%{phone[1:]}%", f"%{phone[1:]}%")
        ).fetchall()


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
def test_a_telegram_update_without_the_registered_secret_is_refused(assistant, fake_telegram, secret):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    reply = requests.post(
        assistant.url + "/webhooks/telegram/webhook", json=telegram_update(6161, "hello"), headers=headers, timeout=30
    )
    assert reply.status_code == 403 and fake_telegram.sent_to(6161) == []
    assert stored_events(assistant, "6161") == []


def test_telegram_round_trip_through_the_bot_api(assistant, fake_telegram):
    assert any(c["method"] == "setWebhook" for c in fake_telegram.calls)
    sent = telegram(assistant, fake_telegram, 4242, "hello")
    assert sent and "1. Check my symptoms" in sent[-1]
    started = telegram(assistant, fake_telegram, 4242, "1")
    assert "16 or older" in started[-1]
    emergency = telegram(assistant, fake_telegram, 4343, "my calf is red, hot and swollen and I'm short of breath")
    assert EMERGENCY_NUMBER in emergency[0] and "emergency" in emergency[0].lower()


def test_the_same_question_gets_the_same_content_on_web_twilio_and_telegram(assistant, fake_telegram):
    rest = assistant.say("web-" + uuid.uuid4().hex[:8], COST_QUESTION)[0]["text"]
    sms = twiml_messages(twilio(assistant, new_phone(), COST_QUESTION))[0]
    tg = telegram(assistant, fake_telegram, 5151, COST_QUESTION)[0]
    assert sms.startswith(rest) and tg.startswith(rest)


def test_without_credentials_the_channels_are_off_and_say_so(tmp_path):
    plain = Assistant(tmp_path)
    plain.start_rasa()
    try:
        log = plain.rasa.log()
        assert "Twilio channel is off" in log and "Telegram channel is off" in log
        assert (
            requests.post(plain.url + "/webhooks/twilio/webhook", data={"From": "x", "Body": "hi"}).status_code == 503
        )
    finally:
        plain.stop()
