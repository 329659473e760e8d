"""The staff inbox's web pages (aiohttp, server-rendered with Jinja2, no JavaScript).

Every page but the sign-in page and /health needs a session (staff_inbox/sessions.py); every POST
carries the session's form token (CSRF); each role may do only its own things (staff_inbox/roles.py);
every view of a conversation, claim, close, sign-in and sign-out is written to the audit log. Pages
are never cached and may not be framed; Jinja2 escapes everything a patient wrote.

A small staff team's traffic: database calls are made in the request's thread, without a pool of
workers.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

import settings
from clinical.handover import summarise
from clinical.triage import LEVEL_NAMES
from staff_inbox import accounts, alerts, audit, queue, roles, sessions
from staff_inbox.accounts import Account
from staff_inbox.fhir_bundle import build_bundle
from staff_inbox.tables import create_tables

logger = logging.getLogger(__name__)

PREFIX = "/staff"
SESSION_COOKIE = "staff_session"
SIGN_IN_COOKIE = "staff_sign_in"  # the sign-in form's own CSRF token (double submit), before any session
HERE = Path(__file__).resolve().parent
ENGINE = web.AppKey("engine", sa.engine.Engine)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the inbox's own forms.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))


def _time(epoch: Optional[float]) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if epoch else ""


templates.filters["time"] = _time
templates.globals["prefix"] = PREFIX
templates.globals["level_names"] = LEVEL_NAMES


def _cookie(response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, path=PREFIX + "/", httponly=True, secure=True, samesite="Strict")


def _page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    signed_in: Optional[Account] = request.get("account")
    session: Optional[sessions.Session] = request.get("session")
    html = templates.get_template(template).render(
        account=signed_in,
        csrf=session.csrf_token if session else "",
        may=lambda permission: bool(signed_in and roles.may(signed_in.role, permission)),
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status)


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    return _page(request, "error.html", status=status, message=message)


def _refuse_audited(request: web.Request, username: str, message: str) -> web.Response:
    """A signed-in request refused (another site's form, an expired form, another role's page): 403,
    and the refusal in the audit log."""
    audit.record(request.app[ENGINE], username, audit.REFUSED, address=_address(request))
    return _refuse(request, 403, message)


def _landing(account: Account) -> str:
    """Where a signed-in member of staff starts: admins keep the inbox, staff work the queue."""
    return PREFIX + ("/audit" if account.role == "admin" else "/queue")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as http:
        response = http
    except Exception as error:  # noqa: BLE001 - a staff member sees an apology, never a stack trace
        logger.error(f"Inbox error on {request.method} {request.path}: {type(error).__name__}")
        response = _refuse(request, 500, "Something went wrong on our side. Please try again.")
    response.headers.update(SECURITY_HEADERS)
    return response


OPEN_PATHS = {PREFIX + "/sign-in", PREFIX + "/health"}


@web.middleware
async def signed_in_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No page without a session, and no POST without the session's form token."""
    if request.path in OPEN_PATHS or request.path.startswith(PREFIX + "/static/"):
        return await handler(request)
    if not request.path.startswith(PREFIX + "/"):  # not the inbox's (a browser's /favicon.ico)
        raise web.HTTPNotFound()
    engine = request.app[ENGINE]
    session = sessions.find(engine, request.cookies.get(SESSION_COOKIE))
    signed_in = accounts.account(engine, session.username) if session else None
    if session is None or signed_in is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(PREFIX + "/sign-in")
        return _refuse(request, 401, "Please sign in.")
    request["session"], request["account"] = session, signed_in
    if request.method == "POST":
        if not _same_site_form(request):
            return _refuse_audited(request, signed_in.username, "This form did not come from the inbox.")
        if not sessions.same_token(_field(await request.post(), "csrf"), session.csrf_token):
            return _refuse_audited(
                request, signed_in.username, "This form has expired. Go back, reload the page and try again."
            )
    return await handler(request)


def _same_site_form(request: web.Request) -> bool:
    """A browser names where a form came from (Sec-Fetch-Site, Origin): only the inbox's own pages may
    post to it. Clients that send neither (scripts, the tests) still need the form token."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("Host", request.host)


def _address(request: web.Request) -> str:
    """Where the request came from: the address nginx appended to X-Forwarded-For (only nginx reaches
    the inbox), else the connection's own."""
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    return forwarded[-1] if forwarded else (request.remote or "")


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def requires(permission: str) -> Callable[[Handler], Handler]:
    """Only a role with `permission` gets the page; another is refused, and the refusal audited."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if roles.may(request["account"].role, permission):
                return await handler(request)
            return _refuse_audited(request, request["account"].username, "Your role cannot do this.")

        return checked

    return wrap


# --- pages -----------------------------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def sign_in_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    # The browser's token is kept if this process signed it: a second tab must not invalidate the
    # form already on screen.
    token = sessions.sign_in_token(request.cookies.get(SIGN_IN_COOKIE))
    response = _page(request, "sign_in.html", status=status, sign_in_token=token, error=error)
    _cookie(response, SIGN_IN_COOKIE, token)
    return response


async def sign_in(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    if not (
        _same_site_form(request) and sessions.same_token(_field(form, "csrf"), cookie) and sessions.signed_by_us(cookie)
    ):
        return _refuse(request, 403, "This form has expired. Reload the sign-in page and try again.")
    engine = request.app[ENGINE]
    username = _field(form, "username").strip()
    address, agent = _address(request), request.headers.get("User-Agent", "")
    try:
        # argon2 takes tens of milliseconds: off the event loop, so sign-ins do not stall every page.
        signed_in = await asyncio.to_thread(accounts.sign_in, engine, username, _field(form, "password"), address)
    except accounts.SignInRefused:
        known = accounts.account(engine, username) is not None
        audit.record(
            engine, username if known else "(unknown name)", audit.SIGN_IN_REFUSED, address=address, user_agent=agent
        )
        return await sign_in_page(
            request, "That name and password did not work, or the account is locked for a while.", status=401
        )
    audit.record(engine, signed_in.username, audit.SIGNED_IN, address=address, user_agent=agent)
    response = web.HTTPSeeOther(_landing(signed_in))
    token = sessions.start(engine, signed_in.username, replacing=request.cookies.get(SESSION_COOKIE))
    _cookie(response, SESSION_COOKIE, token)
    response.del_cookie(SIGN_IN_COOKIE, path=PREFIX + "/")
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE]
    sessions.end(engine, request.cookies.get(SESSION_COOKIE))
    audit.record(engine, request["account"].username, audit.SIGNED_OUT)
    response = web.HTTPSeeOther(PREFIX + "/sign-in")
    response.del_cookie(SESSION_COOKIE, path=PREFIX + "/")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(_landing(request["account"]))


@requires(roles.VIEW_QUEUE)
async def queue_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await asyncio.to_thread(queue.sync, engine)
    closed = request.query.get("show") == "closed"
    audit.record(engine, request["account"].username, audit.VIEWED_QUEUE)
    return _page(request, "queue.html", items=queue.items(engine, closed=closed), closed=closed)


def _item_or_404(request: web.Request) -> queue.Item:
    try:
        item_id = int(request.match_info["item_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    found = queue.item(request.app[ENGINE], item_id)
    if found is None:
        raise web.HTTPNotFound()
    return found


@requires(roles.VIEW_CONVERSATION)
async def item_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    item = _item_or_404(request)
    events = queue.conversation(engine, item.sender_id)
    audit.record(engine, request["account"].username, audit.VIEWED, queue.pseudonym(engine, item.sender_id), item.id)
    transcript = [
        {"who": "Patient" if e["event"] == "user" else "Assistant", "at": e.get("timestamp"), "text": e.get("text")}
        for e in events
        if e.get("event") in ("user", "bot") and e.get("text")
    ]
    return _page(
        request,
        "item.html",
        item=item,
        summary=summarise(events),
        transcript=transcript,
        fhir_endpoint=bool(settings.optional("FHIR_ENDPOINT_URL")),
    )


def _bundle(engine: sa.engine.Engine, item: queue.Item, conversation: str) -> Dict[str, Any]:
    events = queue.conversation(engine, item.sender_id)
    return build_bundle(conversation, summarise(events), events)


@requires(roles.EXPORT)
async def fhir_download(request: web.Request) -> web.StreamResponse:
    item = _item_or_404(request)
    engine = request.app[ENGINE]
    conversation = queue.pseudonym(engine, item.sender_id)
    bundle = _bundle(engine, item, conversation)
    audit.record(engine, request["account"].username, audit.EXPORTED, conversation, item.id)
    return web.Response(
        text=json.dumps(bundle, indent=2, ensure_ascii=False),
        content_type="application/fhir+json",
        headers={"Content-Disposition": f'attachment; filename="knee-assistant-item-{item.id}.fhir.json"'},
    )


def _loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in alerts.LOOPBACK_HOSTS


@requires(roles.EXPORT)
async def fhir_send(request: web.Request) -> web.StreamResponse:
    """POST the bundle (a transaction) to the clinic system's FHIR base URL. Only over https (but to a
    test server on loopback), no redirects followed (a redirect would turn the POST into a GET and a
    sign-in page's 200 into "taken"), and only a transaction-response Bundle counts as taken."""
    endpoint = settings.optional("FHIR_ENDPOINT_URL")
    if not endpoint:
        return _refuse(request, 404, "No clinic system is configured to send to (FHIR_ENDPOINT_URL).")
    if urlsplit(endpoint).scheme != "https" and not _loopback(endpoint):
        return _refuse(request, 500, "FHIR_ENDPOINT_URL must be an https address; nothing was sent.")
    item = _item_or_404(request)
    engine, username = request.app[ENGINE], request["account"].username
    conversation = queue.pseudonym(engine, item.sender_id)
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    token = settings.optional("FHIR_ENDPOINT_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, taken = 0, False
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:
            async with client.post(
                endpoint.rstrip("/"), json=_bundle(engine, item, conversation), headers=headers, allow_redirects=False
            ) as answer:
                status = answer.status
                if 200 <= status < 300:
                    reply = await answer.json(content_type=None)
                    taken = isinstance(reply, dict) and reply.get("type") == "transaction-response"
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        logger.warning(f"FHIR send for item {item.id} failed: {type(error).__name__}")
    if not taken:
        audit.record(engine, username, audit.FHIR_SEND_FAILED, conversation, item.id)
        why = f"it answered {status}" if status else "it could not be reached"
        if 200 <= status < 300:
            why = "its answer was not a FHIR transaction response"
        return _refuse(request, 502, f"The clinic system did not take the bundle: {why}. Try again, or download it.")
    audit.record(engine, username, audit.SENT_TO_FHIR, conversation, item.id)
    return _page(request, "sent.html", item=item)


def _status_change(permission: str, change: Callable[..., None], action: str, of_holder: bool = False) -> Handler:
    """A claim, close or release, audited in the same transaction. `of_holder`: the change names the
    holder the page showed (a release), not the person making it."""

    @requires(permission)
    async def handler(request: web.Request) -> web.StreamResponse:
        engine = request.app[ENGINE]
        item = _item_or_404(request)
        username, conversation = request["account"].username, queue.pseudonym(engine, item.sender_id)
        subject = _field(await request.post(), "holder") if of_holder else username
        try:
            change(
                engine,
                item.id,
                subject,
                lambda connection: audit.record_in(connection, username, action, conversation, item.id),
            )
        except queue.ItemConflict as conflict:
            return _refuse(request, 409, str(conflict))
        raise web.HTTPSeeOther(f"{PREFIX}/items/{item.id}")

    return handler


@requires(roles.VIEW_AUDIT_LOG)
async def audit_page(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    audit.record(engine, request["account"].username, audit.VIEWED_AUDIT_LOG)
    return _page(request, "audit.html", entries=audit.entries(engine))


async def not_found(request: web.Request) -> web.Response:
    return _refuse(request, 404, "There is no such page.")


async def _alerting(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(alerts.keep_alerting(app[ENGINE]))
    yield
    task.cancel()


def create_app(engine: sa.engine.Engine) -> web.Application:
    create_tables(engine)
    app = web.Application(middlewares=[security_headers, signed_in_only], client_max_size=64 * 1024)
    app[ENGINE] = engine
    routes: Dict[str, Any] = {
        "/health": [("GET", health)],
        "/sign-in": [("GET", sign_in_page), ("POST", sign_in)],
        "/sign-out": [("POST", sign_out)],
        "/": [("GET", home)],
        "/queue": [("GET", queue_page)],
        "/items/{item_id}": [("GET", item_page)],
        "/items/{item_id}/claim": [("POST", _status_change(roles.CLAIM, queue.claim, audit.CLAIMED))],
        "/items/{item_id}/close": [("POST", _status_change(roles.CLOSE, queue.close, audit.CLOSED))],
        "/items/{item_id}/release": [
            ("POST", _status_change(roles.CLAIM, queue.release, audit.RELEASED, of_holder=True))
        ],
        "/items/{item_id}/fhir": [("GET", fhir_download), ("POST", fhir_send)],
        "/audit": [("GET", audit_page)],
    }
    for path, methods in routes.items():
        for method, handler in methods:
            app.router.add_route(method, PREFIX + path, handler)
    app.router.add_static(PREFIX + "/static/", HERE / "static")
    if alerts.configured():
        app.cleanup_ctx.append(_alerting)
    app.router.add_route("*", "/{anything:.*}", not_found)
    return app
