"""The staff inbox (staff_inbox/) as a separate process on a stored database: the queue and its
summaries, and the security a health-data inbox needs (issue 12): no page without sign-in, CSRF
refused, lockout, roles, the audit log, nothing of a patient's words in its log."""

from __future__ import annotations

import re
import shutil
import time

import pytest
import sqlalchemy as sa

from harness.servers import StaffInbox
from staff_inbox import accounts
from tests.fake_fhir import FakeFhirServer
from tests.staff_client import StaffBrowser, item_ids, queue_rows
from tests.staff_conversations import (
    QUEUE_OF_THE_THREE,
    emergency_after_a_fall,
    handoff_only,
    self_check_see_clinician,
    store,
)

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OTHER_PASSWORD = "another long password"
FHIR_TOKEN = "token-for-the-clinic-system"


@pytest.fixture(scope="module")
def fhir_server():
    server = FakeFhirServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory, fhir_server):
    workdir = tmp_path_factory.mktemp("staff-inbox")
    tracker_db = workdir / "trackers.db"
    store(
        tracker_db,
        {
            "patient-emergency": emergency_after_a_fall(),
            "patient-self-check": self_check_see_clinician(),
            "patient-handoff": handoff_only(),
        },
    )
    running = StaffInbox(
        workdir,
        tracker_db,
        extra_env={
            "STAFF_LOCKOUT_ATTEMPTS": "3",
            "FHIR_ENDPOINT_URL": fhir_server.url,
            "FHIR_ENDPOINT_TOKEN": FHIR_TOKEN,
        },
    )
    for name, role in (("alex", "staff"), ("sam", "staff"), ("robin", "admin"), ("locked", "staff")):
        running.create_account(name, PASSWORD, role)
    yield running.start()
    running.stop()


def signed_in(inbox, name: str) -> StaffBrowser:
    browser = StaffBrowser(inbox.url)
    response = browser.sign_in(name, PASSWORD)
    assert response.status_code == 303, response.text
    return browser


def test_no_page_or_action_without_sign_in(inbox):
    browser = StaffBrowser(inbox.url)
    for path in ("/", "/queue", "/queue?show=closed", "/items/1", "/audit", "/no-such-page"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/staff/sign-in", path
    for path in ("/items/1/claim", "/items/1/close", "/sign-out"):
        assert browser.post(path).status_code == 401, path
    # A made-up session cookie is no session either.
    browser.cookies["staff_session"] = "made-up"
    assert browser.get("/queue").status_code == 303


def test_the_session_cookie_is_secure_httponly_and_same_site(inbox):
    browser = signed_in(inbox, "alex")
    session_cookie = [h for h in browser.set_cookie_headers if h.startswith("staff_session=")][-1]
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/staff/"):
        assert flag in session_cookie, session_cookie
    page = browser.get("/queue")
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_the_queue_shows_the_most_urgent_first_and_the_summary(inbox):
    browser = signed_in(inbox, "alex")
    page = browser.get("/queue")
    assert page.status_code == 200
    rows = queue_rows(page.text)
    assert rows == QUEUE_OF_THE_THREE, rows
    self_check_item = item_ids(page.text)[2]
    summary = browser.get(f"/items/{self_check_item}").text
    assert "See a clinician" in summary and "swelling that keeps coming back" in summary
    assert "(pertinent negative)" in summary and "What is knee osteoarthritis?" in summary
    # The patient's words are shown as text, never run as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary and "<script>" not in summary


def test_an_item_is_claimed_by_one_person_and_closed_by_them(inbox):
    alex, sam = signed_in(inbox, "alex"), signed_in(inbox, "sam")
    item = item_ids(alex.get("/queue").text)[-1]
    alex.get(f"/items/{item}")
    assert alex.post(f"/items/{item}/claim").status_code == 303
    assert "claimed by alex" in alex.get(f"/items/{item}").text
    sam.get(f"/items/{item}")
    assert sam.post(f"/items/{item}/claim").status_code == 409
    assert sam.post(f"/items/{item}/close").status_code == 409
    alex.get(f"/items/{item}")
    assert alex.post(f"/items/{item}/close").status_code == 303
    assert item not in item_ids(alex.get("/queue").text)
    assert item in item_ids(alex.get("/queue?show=closed").text)


def test_a_form_without_its_token_is_refused(inbox):
    alex = signed_in(inbox, "alex")
    item = item_ids(alex.get("/queue").text)[0]
    alex.get(f"/items/{item}")
    assert alex.request("POST", f"/items/{item}/claim").status_code == 403  # no token
    assert alex.post(f"/items/{item}/claim", csrf="forged").status_code == 403
    sam = signed_in(inbox, "sam")
    sam.get("/queue")
    assert alex.post(f"/items/{item}/claim", csrf=sam.form_token).status_code == 403  # another session's
    assert "claimed" not in alex.get(f"/items/{item}").text.split("<h2")[0]
    # A form posted from another site is refused whatever it carries.
    cross_site = StaffBrowser(inbox.url, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    cross_site.cookies, cross_site.form_token = dict(alex.cookies), alex.form_token
    assert cross_site.post(f"/items/{item}/claim").status_code == 403
    # The sign-in form has its own token, before any session.
    stranger = StaffBrowser(inbox.url)
    assert stranger.request("POST", "/sign-in", username="alex", password=PASSWORD).status_code == 403


def test_repeated_wrong_passwords_lock_the_account(inbox):
    browser = StaffBrowser(inbox.url)
    for _ in range(3):
        assert browser.sign_in("locked", "wrong password here").status_code == 401
    refused = browser.sign_in("locked", PASSWORD)
    assert refused.status_code == 401 and "locked" in refused.text
    assert "staff_session" not in browser.cookies
    # Only that name, and only from there: another account signs in, and so does "locked" from the
    # clinic's own network (nginx's X-Forwarded-For).
    assert signed_in(inbox, "sam").cookies["staff_session"]
    elsewhere = StaffBrowser(inbox.url, headers={"X-Forwarded-For": "10.1.2.3"})
    assert elsewhere.sign_in("locked", PASSWORD).status_code == 303


def test_the_lock_ends_after_its_time_and_a_right_password_resets_the_count(tmp_path, monkeypatch):
    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "2")
    monkeypatch.setenv("STAFF_LOCKOUT_MINUTES", "10")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'accounts.db'}")
    accounts.create_account(engine, "kim", PASSWORD, "staff")
    now = time.time()
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(engine, "kim", "wrong", now=now)
    assert accounts.sign_in(engine, "kim", PASSWORD, now=now).username == "kim"  # resets the count
    for _ in range(2):
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(engine, "kim", "wrong", now=now)
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(engine, "kim", PASSWORD, now=now + 9 * 60)
    assert accounts.sign_in(engine, "kim", PASSWORD, now=now + 11 * 60).role == "staff"


def test_each_role_does_only_its_own_things(inbox):
    admin = signed_in(inbox, "robin")
    for path in ("/queue", "/items/1"):
        assert admin.get(path).status_code == 403, path  # admins keep the inbox, not the patients
    admin.get("/audit")
    assert admin.post("/items/1/claim").status_code == 403
    staff = signed_in(inbox, "alex")
    assert staff.get("/audit").status_code == 403


def test_staff_download_the_fhir_bundle_and_send_it_to_the_clinic_system(inbox, fhir_server):
    alex = signed_in(inbox, "alex")
    item = item_ids(alex.get("/queue").text)[2]  # the self-check
    download = alex.get(f"/items/{item}/fhir")
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("application/fhir+json")
    assert "attachment" in download.headers["Content-Disposition"]
    bundle = download.json()
    assert FakeFhirServer.problem(bundle, "application/fhir+json") is None
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == ["Patient", "QuestionnaireResponse", "RiskAssessment"]
    assert bundle["entry"][0]["resource"]["identifier"][0]["value"] == pseudonym_of(inbox, "patient-self-check")

    alex.get(f"/items/{item}")
    sent = alex.post(f"/items/{item}/fhir")
    assert sent.status_code == 200 and "took item" in sent.text, sent.text
    assert len(fhir_server.received) == 1 and fhir_server.authorizations[-1] == f"Bearer {FHIR_TOKEN}"
    received = fhir_server.received[-1]
    assert [e["resource"]["resourceType"] for e in received["entry"]] == kinds

    fhir_server.answer_status = 500
    try:
        alex.get(f"/items/{item}")
        failed = alex.post(f"/items/{item}/fhir")
    finally:
        fhir_server.answer_status = None
    assert failed.status_code == 502 and "answered 500" in failed.text

    fhir_server.answer_status = 302  # a redirect (to a sign-in page, say) is not "taken"
    try:
        alex.get(f"/items/{item}")
        redirected = alex.post(f"/items/{item}/fhir")
    finally:
        fhir_server.answer_status = None
    assert redirected.status_code == 502 and "answered 302" in redirected.text
    assert fhir_server.received[-1]["entry"][0]["request"]["ifNoneExist"].endswith(
        "|" + pseudonym_of(inbox, "patient-self-check")
    )

    admin = signed_in(inbox, "robin")
    assert admin.get(f"/items/{item}/fhir").status_code == 403
    log = admin.get("/audit").text
    conversation = pseudonym_of(inbox, "patient-self-check")
    for action in ("exported_fhir", "sent_to_fhir", "fhir_send_failed"):
        assert f"<td>alex</td><td>{action}</td><td>{conversation}</td>" in log, action


def pseudonym_of(inbox, sender: str) -> str:
    engine = sa.create_engine(f"sqlite:///{inbox.env['TRACKER_DB']}")
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT pseudonym FROM inbox_conversations WHERE sender_id = :s"), {"s": sender}
        ).scalar_one()
    engine.dispose()
    return found


def audit_rows(inbox):
    log = signed_in(inbox, "robin").get("/audit").text
    cell = r"<td>([^<]*)</td>"
    return log, re.findall(r"<tr><td>[^<]*</td>" + cell * 5 + "</tr>", log)


def test_the_audit_log_records_who_did_what_by_pseudonym(inbox):
    alex = signed_in(inbox, "alex")
    item = item_ids(alex.get("/queue").text)[0]
    alex.get(f"/items/{item}")
    alex.post(f"/items/{item}/claim")
    StaffBrowser(inbox.url).sign_in("alex", "not the password")
    alex.get("/audit")  # refused: not an admin
    log, rows = audit_rows(inbox)
    conversation = pseudonym_of(inbox, "patient-emergency")
    assert ("alex", "viewed_conversation", conversation, str(item), "") in rows, rows[:10]
    assert ("alex", "claimed", conversation, str(item), "") in rows
    assert ("alex", "sign_in_refused", "", "", "127.0.0.1") in rows and (
        "alex",
        "signed_in",
        "",
        "",
        "127.0.0.1",
    ) in rows
    assert ("alex", "refused", "", "", "127.0.0.1") in rows
    assert ("robin", "signed_in", "", "", "127.0.0.1") in rows
    # The channel's own id (a Telegram chat id, a phone number's hash) never reaches the log.
    assert "patient-emergency" not in log and "patient-self-check" not in log


def test_a_claimed_item_can_be_released_by_another_member_of_staff(inbox):
    alex, sam = signed_in(inbox, "alex"), signed_in(inbox, "sam")
    item = item_ids(alex.get("/queue").text)[1]
    alex.get(f"/items/{item}")
    assert alex.post(f"/items/{item}/claim").status_code == 303
    sam.get(f"/items/{item}")
    assert sam.post(f"/items/{item}/release", holder="alex").status_code == 303  # alex went off shift
    page = sam.get(f"/items/{item}").text
    assert "claimed by" not in page.split("<h2")[0] and "Claim</button>" in page
    assert sam.post(f"/items/{item}/claim").status_code == 303
    _, rows = audit_rows(inbox)
    assert ("sam", "released", pseudonym_of(inbox, "patient-emergency"), str(item), "") in rows


def test_the_inbox_log_holds_no_patient_words(inbox):
    alex = signed_in(inbox, "alex")
    for item in item_ids(alex.get("/queue").text):
        alex.get(f"/items/{item}")
    log = inbox.process.log()
    assert "/staff/items/" in log  # the log was written, with the requests in it
    for words in ("ladder", "swollen", "real person", "script"):
        assert words not in log, words


def test_the_account_command_refuses_a_short_password_and_a_second_account_of_one_name(inbox):
    with pytest.raises(RuntimeError, match="at least 12 characters"):
        inbox.create_account("short", "short", "staff")
    with pytest.raises(RuntimeError, match="already an account named alex"):
        inbox.create_account("alex", OTHER_PASSWORD, "staff")


def test_retention_deletes_a_conversations_items_with_it_and_old_audit_entries(tmp_path, monkeypatch):
    from privacy import retention
    from staff_inbox import audit, queue
    from staff_inbox.tables import audit_log, inbox_items

    tracker_db = tmp_path / "trackers.db"
    store(
        tracker_db,
        {"old": handoff_only(start=time.time() - 60 * 86400), "recent": emergency_after_a_fall(start=time.time())},
    )
    engine = sa.create_engine(f"sqlite:///{tracker_db}")
    assert queue.sync(engine) == 3
    audit.record(engine, "alex", audit.VIEWED, conversation="pseudonym-old", item_id=1)
    with engine.begin() as connection:  # an entry from seven years ago
        connection.execute(audit_log.update().values(at=time.time() - 7 * 365 * 86400))
    audit.record(engine, "alex", audit.VIEWED, conversation="pseudonym-recent", item_id=2)

    monkeypatch.setenv("TRACKER_DB", str(tracker_db))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert retention.main([]) == 0
    with engine.connect() as connection:
        senders = {row.sender_id for row in connection.execute(sa.select(inbox_items))}
        kept = [(row.conversation, row.action) for row in connection.execute(sa.select(audit_log))]
        pseudonyms = {row[0] for row in connection.execute(sa.text("SELECT sender_id FROM inbox_conversations"))}
    assert senders == {"recent"} and pseudonyms == {"recent"}
    assert kept == [("pseudonym-recent", audit.VIEWED)]


def test_nginx_serves_the_inbox_at_staff(inbox, tmp_path):
    """deploy/'s nginx template in front: the inbox's pages, cookies and headers come through."""
    from harness.services import Nginx

    nginx = Nginx(tmp_path, ["127.0.0.1:9"], inbox=f"127.0.0.1:{inbox.port}").start()
    try:
        browser = StaffBrowser(nginx.url + "/staff")
        assert browser.sign_in("alex", PASSWORD).status_code == 303
        page = browser.get("/queue")
        assert page.status_code == 200 and "Open items" in page.text
        assert page.headers["X-Frame-Options"] == "DENY"
        assert any("HttpOnly" in h and "Secure" in h for h in browser.set_cookie_headers)
    finally:
        nginx.stop()


def test_the_inbox_pages_in_a_browser_have_no_serious_accessibility_violation(inbox, capsys):
    """Debian's chromium through Playwright: sign in, the queue, an item with its summary and its
    conversation. axe-core on each page; screenshots in reports/screenshots/ (staff-inbox-*.png)."""
    from playwright.sync_api import sync_playwright

    from harness.servers import ROOT

    axe = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
    screenshots = ROOT / "reports" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    rules = "{runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}"
    found = {}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        # bypass_csp: the inbox's Content-Security-Policy would (rightly) refuse axe's injected script.
        page = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()

        def check(name: str) -> None:
            page.add_script_tag(path=str(axe))
            result = page.evaluate(f"async () => await axe.run(document, {rules})")
            found[name] = [
                (v["id"], v["impact"]) for v in result["violations"] if v["impact"] in ("serious", "critical")
            ]
            page.screenshot(path=str(screenshots / f"staff-inbox-{name}.png"), full_page=True)

        page.goto(inbox.url + "/sign-in")
        check("sign-in")
        page.fill("#username", "sam")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/staff/queue")
        check("queue")
        page.click("table a[href*='/staff/items/']")
        page.wait_for_selector("#situation")
        check("item")
        chromium.close()
    with capsys.disabled():
        print(f"\n[axe-core, staff inbox] serious/critical: {found}")
    assert set(found) == {"sign-in", "queue", "item"}
    assert all(violations == [] for violations in found.values()), found
