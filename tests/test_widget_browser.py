"""The web widget in a real browser: Playwright driving Debian's chromium (no browser download),
against the real action server and Rasa server, with the demo clinic page served from build/web.
Screenshots (desktop and phone width) go to reports/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
import time

import pytest

from harness.patients import SERVICE_TEXTS, new_sender
from harness.servers import ROOT, Assistant, free_port, tarpit

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "reports" / "screenshots"
WEB = ROOT / "build" / "web"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, site):
    # The page is another origin than the Rasa server: CORS allows exactly that origin, as in production.
    running = Assistant(tmp_path_factory.mktemp("widget"), extra_env={"CORS_ORIGINS": site}).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def site():
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(WEB))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site, assistant):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{site}/index.html?server={assistant.url}")
    yield page
    context.close()


def open_widget(page):
    page.get_by_role("button", name="Chat with Knee Clinic's assistant").click()
    page.locator(".kc-bot").first.wait_for()


def last_bot_text(page):
    return page.locator(".kc-bot .kc-text").last.inner_text()


def ask(page, text):
    count = page.locator(".kc-bot").count()
    page.get_by_label("Your message").fill(text)
    page.keyboard.press("Enter")
    page.locator(".kc-bot").nth(count).wait_for()
    page.wait_for_timeout(300)  # the rest of a multi-message reply


def test_it_speaks_first_and_answers_a_question(page):
    open_widget(page)
    assert "knee-pain assistant" in page.locator(".kc-bot").first.inner_text()
    ask(page, "How much does stem cell therapy cost?")
    assert "Source" in page.locator(".kc-log").inner_text()


class SocketTraffic:
    """What a page exchanges with /socket.io/: the WebSockets it opens (and the frames they bring) and
    its long-polling requests."""

    def __init__(self, page) -> None:
        self.websockets: list = []
        self.frames: list = []
        self.polls = 0
        page.on("websocket", self._websocket)
        page.on("request", self._request)

    def _websocket(self, websocket) -> None:
        if "/socket.io/" in websocket.url:
            self.websockets.append(websocket.url)
            websocket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    def _request(self, request) -> None:
        if "/socket.io/" in request.url and "transport=polling" in request.url:
            self.polls += 1

    def replies_over_websocket(self) -> int:
        return sum("bot_uttered" in frame for frame in self.frames)


EMERGENCY = "hi, how much is it? also my dad fell and his knee is bent the wrong way"


def converse(page) -> None:
    """An article question, then an emergency: each answered, the second with the call banner."""
    open_widget(page)
    ask(page, "How much does stem cell therapy cost?")
    assert "Source" in page.locator(".kc-log").inner_text()
    ask(page, EMERGENCY)
    assert page.get_by_role("alert").is_visible()


@pytest.fixture
def new_page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_it_talks_over_a_websocket(new_page, site, assistant):
    traffic = SocketTraffic(new_page)
    new_page.goto(f"{site}/index.html?server={assistant.url}")
    converse(new_page)
    assert len(traffic.websockets) == 1 and traffic.replies_over_websocket() >= 3
    assert traffic.polls == 0


def test_it_long_polls_when_the_page_asks_for_it(new_page, site, assistant):
    traffic = SocketTraffic(new_page)
    new_page.goto(f"{site}/index.html?server={assistant.url}&transport=polling")
    converse(new_page)
    assert traffic.websockets == [] and traffic.polls > 0


def test_it_falls_back_to_long_polling_when_no_websocket_can_be_opened(new_page, site, assistant):
    """A proxy that drops the upgrade, played by the browser: every WebSocket to the server closes."""
    traffic = SocketTraffic(new_page)
    new_page.route_web_socket(re.compile(r".*/socket\.io/.*"), lambda websocket: websocket.close())
    new_page.goto(f"{site}/index.html?server={assistant.url}")
    converse(new_page)
    assert traffic.polls > 0 and traffic.replies_over_websocket() == 0


@pytest.fixture(scope="module")
def busy_assistant(tmp_path_factory, site):
    """Room for one turn at a time, and an action server that never answers: an article question holds
    the room for ACTION_TIMEOUT_SECONDS (6)."""
    with tarpit() as actions:
        running = Assistant(
            tmp_path_factory.mktemp("widget-busy"),
            extra_env={
                "CORS_ORIGINS": site,
                "ACTIONS_URL": actions,
                "MAX_TURNS_IN_FLIGHT": "1",
                "ACTION_TIMEOUT_SECONDS": "6",
            },
        )
        running.start_rasa()
        yield running
        running.stop()


def test_a_busy_reply_keeps_the_message_to_send_again(new_page, site, busy_assistant):
    from concurrent.futures import ThreadPoolExecutor

    new_page.goto(f"{site}/index.html?server={busy_assistant.url}")
    open_widget(new_page)  # the greeting is a domain response: it needs no action server
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(busy_assistant.say, new_sender("held"), "How much does stem cell therapy cost?")
        new_page.wait_for_timeout(2000)  # the other patient's turn is in, held for 6 s
        ask(new_page, "hello there")
        assert last_bot_text(new_page) == SERVICE_TEXTS["utter_busy"]
        ask(new_page, "and a second thing")
        assert last_bot_text(new_page) == SERVICE_TEXTS["utter_busy"]
        held.result(timeout=60)
    greetings = new_page.locator(".kc-bot", has_text="knee-pain assistant").count()
    # Each busy reply offers its own message again: the first one's button sends the first message.
    new_page.get_by_role("button", name="Send again").first.click()
    new_page.locator(".kc-bot", has_text="knee-pain assistant").nth(greetings).wait_for()
    shown = new_page.locator(".kc-user .kc-text").all_inner_texts()
    assert shown == ["hello there", "and a second thing", "hello there"]


def test_quick_replies_stay_usable_and_show_the_choice(page):
    open_widget(page)
    book = page.locator(".kc-reply", has_text="Book a consultation").first
    book.click()
    page.locator(".kc-user", has_text="Book a consultation").wait_for()
    assert book.get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(500)
    assert "book" in last_bot_text(page).lower()
    assert page.locator(".kc-reply", has_text="What can you help with?").first.is_enabled()


def test_self_check_to_an_emergency_shows_the_call_banner_and_a_reload_keeps_everything(page):
    open_widget(page)
    page.locator(".kc-reply", has_text="Check my symptoms").first.click()
    for _ in range(3):  # 16 or older, an injury, the knee looks deformed: yes
        page.locator(".kc-bot .kc-reply", has_text="Yes").last.wait_for()
        count = page.locator(".kc-bot").count()
        page.locator(".kc-bot .kc-reply", has_text="Yes").last.click()
        page.locator(".kc-bot").nth(count).wait_for()
        page.wait_for_timeout(400)
    banner = page.get_by_role("alert")
    banner.wait_for()
    assert banner.get_by_role("link", name="Call 911 now").get_attribute("href") == "tel:911"
    messages = page.locator(".kc-message").count()
    page.reload()
    page.locator(".kc-message").nth(messages - 1).wait_for()
    assert page.locator(".kc-message").count() == messages
    assert page.get_by_role("alert").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "desktop-emergency.png"))


def test_keyboard_only(page):
    page.keyboard.press("Tab")
    launcher = page.get_by_role("button", name="Chat with Knee Clinic's assistant")
    assert launcher.evaluate("node => node === document.activeElement")
    page.keyboard.press("Enter")
    page.locator(".kc-bot").first.wait_for()
    assert page.get_by_label("Your message").evaluate("node => node === document.activeElement")
    page.keyboard.type("what is osteoarthritis?")
    count = page.locator(".kc-bot").count()
    page.keyboard.press("Enter")
    page.locator(".kc-bot").nth(count).wait_for()
    page.keyboard.press("Escape")
    assert page.locator("#kc-panel").is_hidden()
    assert launcher.evaluate("node => node === document.activeElement")


def test_html_in_a_message_is_shown_inert(page):
    open_widget(page)
    ask(page, '<img src=x onerror="window.pwned=1"><b>bold</b>')
    assert page.locator(".kc-log img, .kc-log b").count() == 0
    assert '<img src=x onerror="window.pwned=1"><b>bold</b>' in page.locator(".kc-user").last.inner_text()
    assert page.evaluate("window.pwned === undefined")


def test_the_conversation_goes_on_after_a_rasa_server_restart(page, assistant):
    open_widget(page)
    ask(page, "what is cartilage?")
    assistant.rasa.stop()
    assistant.start_rasa()
    ask(page, "thanks")
    assert "welcome" in last_bot_text(page).lower()


def test_no_serious_or_critical_accessibility_violation_and_phone_width(browser, site, assistant, capsys):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{site}/index.html?server={assistant.url}")
    open_widget(page)
    page.wait_for_timeout(500)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})"
    )
    serious = [
        (v["id"], v["impact"], len(v["nodes"])) for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    others = [(v["id"], v["impact"]) for v in result["violations"] if v["impact"] not in ("serious", "critical")]
    with capsys.disabled():
        print(f"\n[axe-core] serious/critical: {serious}; other: {others}; rules passed: {len(result['passes'])}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "phone-360.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()
    assert serious == []


# Records, in the page, whether the typing indicator was showing when each new reply was added: the
# indicator may show for only a few milliseconds on a fast machine, too short to poll for.
WATCH_TYPING = """() => {
  window.typingWhenReplied = [];
  const log = document.querySelector('.kc-log') || document.body;
  new MutationObserver(records => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.classList && node.classList.contains('kc-bot')) {
          window.typingWhenReplied.push(window.typingSeen === true);
        }
      }
    }
  }).observe(log, {childList: true, subtree: true});
  new MutationObserver(() => {
    if (!document.querySelector('.kc-typing').hidden) window.typingSeen = true;
  }).observe(document.querySelector('.kc-typing'), {attributes: true});
}"""


def test_links_open_safely_and_the_typing_indicator_shows_while_waiting(page):
    open_widget(page)
    page.evaluate(WATCH_TYPING)
    page.get_by_label("Your message").fill("I'd like to book an appointment")
    page.keyboard.press("Enter")
    link = page.locator(".kc-bot a[href='https://clinic.example/book']").last
    link.wait_for()
    assert link.get_attribute("rel") == "noopener noreferrer" and link.get_attribute("target") == "_blank"
    # The indicator showed between the message and the first reply to it, and is gone now.
    replied = page.evaluate("window.typingWhenReplied")
    assert replied and replied[0] is True
    assert page.locator(".kc-typing").is_hidden()


def test_start_over_forgets_the_conversation_in_the_browser(page):
    open_widget(page)
    ask(page, "what is osteoarthritis?")
    old_session = page.evaluate("sessionStorage.getItem('knee-chat:session')")
    page.get_by_role("button", name="Start over").click()
    page.locator(".kc-bot").first.wait_for()  # greeted again, in a new session
    assert page.locator(".kc-user").count() == 0
    assert page.evaluate("sessionStorage.getItem('knee-chat:session')") != old_session


def test_an_emergency_typed_in_the_widget_comes_first_with_the_banner(page):
    open_widget(page)
    before = page.locator(".kc-bot").count()
    ask(page, "hi, how much is it? also my dad fell and his knee is bent the wrong way")
    first_reply = page.locator(".kc-bot .kc-text").nth(before).inner_text()
    assert "911" in first_reply and "emergency" in first_reply.lower()
    assert page.get_by_role("alert").is_visible()


@pytest.fixture(scope="module")
def assistant_requiring_a_jwt(tmp_path_factory, site):
    """socket.io behind a JWT (SOCKETIO_JWT_KEY). The greeting is a domain response: no action server."""
    running = Assistant(
        tmp_path_factory.mktemp("widget-jwt"),
        extra_env={"CORS_ORIGINS": site, "SOCKETIO_JWT_KEY": "widget-test-key-" + "k" * 16},
    )
    running.start_rasa()
    yield running
    running.stop()


@pytest.mark.parametrize("key, greeted", [("widget-test-key-" + "k" * 16, True), ("another-key-" + "q" * 24, False)])
def test_the_widget_connects_with_the_token_the_page_gives_it(browser, site, assistant_requiring_a_jwt, key, greeted):
    import jwt

    token = jwt.encode({"sub": "widget", "exp": int(time.time()) + 300}, key, algorithm="HS256")
    context = browser.new_context()
    page = context.new_page()
    # The clinic's page hands the widget a short-lived token from its own backend.
    page.add_init_script(f"window.kneeChatToken = function (done) {{ done({token!r}); }};")
    page.goto(f"{site}/index.html?server={assistant_requiring_a_jwt.url}")
    page.get_by_role("button", name="Chat with Knee Clinic's assistant").click()
    try:
        if greeted:
            page.locator(".kc-bot").first.wait_for(timeout=20000)
            assert "knee-pain assistant" in page.locator(".kc-bot").first.inner_text()
        else:
            page.wait_for_timeout(4000)
            assert page.locator(".kc-bot").count() == 0
    finally:
        context.close()
