"""Alerts to clinic staff when new items reach the inbox: by email (SMTP) and by SMS (Twilio's REST
API), to the addresses and numbers in STAFF_ALERT_EMAIL and STAFF_ALERT_SMS.

An alert carries no health detail and nothing that identifies a patient: how many new items there
are, whether one is a request to talk to the team, and the link to the inbox, where reading them
needs a sign-in. New items found in one look go out as one alert. An item is marked alerted once an
alert about it has gone out on at least one channel; if every channel fails, the next look tries
again. Failures are logged by type only.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import List, Optional, Sequence

import sqlalchemy as sa

import settings
from staff_inbox import queue
from staff_inbox.tables import inbox_items

logger = logging.getLogger(__name__)
# Servers on this machine: the only ones a password may reach unencrypted (SMTP) and a bundle over plain
# http (FHIR, web.py): a test server, never a clinic's.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _listed(name: str) -> List[str]:
    return [part.strip() for part in (settings.optional(name) or "").split(",") if part.strip()]


def configured() -> bool:
    return bool(_listed("STAFF_ALERT_EMAIL") and settings.optional("SMTP_HOST")) or bool(
        _listed("STAFF_ALERT_SMS") and settings.optional("TWILIO_ACCOUNT_SID")
    )


def alert_text(kinds: Sequence[str]) -> str:
    """The alert for new items of these kinds: no level, no words of the patient, no identity."""
    count = f"{len(kinds)} new items are" if len(kinds) > 1 else "A new item is"
    person = " A patient asked to talk to the clinic team." if queue.HANDOFF in kinds else ""
    link = settings.text("STAFF_INBOX_URL").rstrip("/") + "/queue"
    return f"{count} waiting in the staff inbox.{person} Sign in to read: {link}"


def send_email(text: str) -> None:
    message = EmailMessage()
    message["Subject"] = "Staff inbox: new item"
    message["From"] = settings.text("STAFF_ALERT_FROM")
    message["To"] = ", ".join(_listed("STAFF_ALERT_EMAIL"))
    message.set_content(text)
    host, port = settings.text("SMTP_HOST"), settings.integer("SMTP_PORT")
    tls = settings.text("SMTP_STARTTLS") == "1"
    username = settings.optional("SMTP_USERNAME")
    if username and not tls and host not in LOOPBACK_HOSTS:
        raise ValueError("refusing to send the SMTP password unencrypted: set SMTP_STARTTLS=1")
    with smtplib.SMTP(host, port, timeout=20) as smtp:
        if tls:  # with the certificate and host name checked (smtplib's default checks neither)
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, settings.optional("SMTP_PASSWORD") or "")
        smtp.send_message(message)


def send_sms(text: str) -> None:
    from twilio.rest import Client

    client = Client(settings.text("TWILIO_ACCOUNT_SID"), settings.text("TWILIO_AUTH_TOKEN"))
    client.api.base_url = settings.text("TWILIO_API_URL")
    for number in _listed("STAFF_ALERT_SMS"):
        client.messages.create(to=number, from_=settings.text("TWILIO_NUMBER"), body=text)


def _claim_for_alert(engine: sa.engine.Engine, now: float) -> List[sa.engine.Row]:
    """Mark the unalerted items as alerted before sending, so that two looks never alert twice."""
    with engine.begin() as connection:
        rows = connection.execute(
            sa.select(inbox_items.c.id, inbox_items.c.kind)
            .where(inbox_items.c.alerted_at.is_(None))
            .where(inbox_items.c.status.in_(queue.OPEN))
            .order_by(inbox_items.c.id)
        ).all()
        claimed = []
        for row in rows:
            if connection.execute(
                inbox_items.update()
                .where(inbox_items.c.id == row.id)
                .where(inbox_items.c.alerted_at.is_(None))
                .values(alerted_at=now)
            ).rowcount:
                claimed.append(row)
    return claimed


async def alert_new_items(engine: sa.engine.Engine) -> Optional[str]:
    """One look: sync the queue, alert about items not alerted yet; returns the alert sent, if any.
    If every channel fails, the items are unmarked and the next look tries again."""
    await asyncio.to_thread(queue.sync, engine)
    new = await asyncio.to_thread(_claim_for_alert, engine, time.time())
    if not new:
        return None
    text = alert_text([row.kind for row in new])
    senders = []
    if _listed("STAFF_ALERT_EMAIL") and settings.optional("SMTP_HOST"):
        senders.append(send_email)
    if _listed("STAFF_ALERT_SMS") and settings.optional("TWILIO_ACCOUNT_SID"):
        senders.append(send_sms)
    sent = False
    for send in senders:
        try:
            await asyncio.to_thread(send, text)
            sent = True
        except Exception as error:  # noqa: BLE001 - one channel failing must not stop the other
            logger.warning(f"Staff alert by {send.__name__} failed: {type(error).__name__}")
    if not sent:
        with engine.begin() as connection:
            connection.execute(
                inbox_items.update().where(inbox_items.c.id.in_([row.id for row in new])).values(alerted_at=None)
            )
        return None
    logger.info(f"Staff alerted of {len(new)} new item(s).")
    return text


async def keep_alerting(engine: sa.engine.Engine) -> None:
    """The inbox process's background loop (started only when an alert channel is configured)."""
    while True:
        try:
            await alert_new_items(engine)
        except Exception as error:  # noqa: BLE001 - the loop outlives a database hiccup
            logger.warning(f"Staff alerts: a look failed: {type(error).__name__}")
        await asyncio.sleep(settings.seconds("STAFF_ALERT_POLL_SECONDS"))
