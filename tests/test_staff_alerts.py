"""Staff alerts (staff_inbox/alerts.py) from the running inbox: email to a real SMTP server on
loopback (aiosmtpd) and SMS to a fake of Twilio's REST API. No health detail in either."""

from __future__ import annotations

import http.server
import json
import threading
import time
from email import message_from_string
from email.policy import default
from typing import Any, Dict, List
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller

from harness.servers import StaffInbox, free_port
from tests.staff_conversations import emergency_after_a_fall, handoff_only, self_check_see_clinician, store

pytestmark = pytest.mark.slow
SID, TOKEN = "AC" + "0" * 32, "test-auth-token"
HEALTH_WORDS = ("ladder", "bent", "swollen", "emergency", "Emergency", "self-check", "clinician", "script", "911")


class Mailbox:
    def __init__(self) -> None:
        self.messages: List[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


class FakeTwilioApi:
    """POST /2010-04-01/Accounts/{sid}/Messages.json, as Twilio's REST API takes an outgoing SMS."""

    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                fake.sent.append({"path": self.path, "auth": self.headers.get("Authorization"), **form})
                body = json.dumps({"sid": "SM" + "1" * 32, "status": "queued", "body": form["Body"][0]}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("no alert in time")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def alerted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("staff-alerts")
    tracker_db = workdir / "trackers.db"
    store(tracker_db, {"first": emergency_after_a_fall(), "second": self_check_see_clinician()})
    mailbox, twilio = Mailbox(), FakeTwilioApi()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    inbox = StaffInbox(
        workdir,
        tracker_db,
        extra_env={
            "STAFF_ALERT_POLL_SECONDS": "0.5",
            "STAFF_INBOX_URL": "https://chat.clinic.example/staff",
            "STAFF_ALERT_EMAIL": "team@clinic.example, nurse@clinic.example",
            "STAFF_ALERT_FROM": "inbox@clinic.example",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "SMTP_STARTTLS": "0",
            "STAFF_ALERT_SMS": "+15550001111",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_NUMBER": "+15559990000",
            "TWILIO_API_URL": twilio.url,
        },
    ).start()
    yield inbox, tracker_db, mailbox, twilio
    inbox.stop()
    smtp.stop()
    twilio.server.shutdown()


def test_new_items_alert_staff_by_email_and_sms_without_health_detail(alerted):
    inbox, tracker_db, mailbox, twilio = alerted
    wait_until(lambda: mailbox.messages and twilio.sent)
    email, sms = message_from_string(mailbox.messages[0], policy=default), twilio.sent[0]
    # The two conversations' three items in one alert, with the link and the request for a person.
    for text in (email.get_content(), sms["Body"][0]):
        assert "3 new items are waiting in the staff inbox" in text
        assert "A patient asked to talk to the clinic team." in text
        assert "https://chat.clinic.example/staff/queue" in text
        for word in HEALTH_WORDS:
            assert word not in text, word
    assert email["To"] == "team@clinic.example, nurse@clinic.example" and email["From"] == "inbox@clinic.example"
    assert sms["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert sms["To"] == ["+15550001111"] and sms["From"] == ["+15559990000"]
    assert sms["auth"].startswith("Basic ")
    # Items already alerted are not alerted again; a new request is, on its own.
    time.sleep(2)
    assert len(mailbox.messages) == 1 and len(twilio.sent) == 1
    store(tracker_db, {"third": handoff_only()})
    wait_until(lambda: len(mailbox.messages) == 2 and len(twilio.sent) == 2)
    assert "A new item is waiting in the staff inbox. A patient asked to talk" in twilio.sent[1]["Body"][0]
    log = inbox.process.log()
    assert "Staff alerted of 3 new item(s)." in log
    for word in HEALTH_WORDS:
        assert word not in log, word
