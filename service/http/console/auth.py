"""Signing in to the console: sessions, CSRF tokens, the sign-in rate limit.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when the base URL is
https) holding the user's name, a fingerprint of its password hash (so a new password or a
removed user ends every session at its next request) and the CSRF token every form sends back.
The signing key is made once and kept in the store, so every worker and host shares it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

from service.http.console.passwords import dummy_hash, verify_password
from service.http.contract.operations import Answers, Reply, operation, text
from service.http.contract.query import Query
from store.base import Store
from store.editorial import AuditEntry, User
from store.errors import StoreUnavailable

bp = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates")
STATIC = Path(__file__).parent / "static"
F = TypeVar("F", bound=Callable[..., Any])
HTML = "text/html"

SECRET_META = "console.secret"
COOKIE = "quantam_console"
SESSION_HOURS = 12
# Failed sign-ins allowed per client address and per user name in WINDOW seconds: enough for
# typing mistakes, few enough that guessing a 10-character password online is hopeless.
MAX_FAILURES = 5
WINDOW = 15 * 60
# Addresses and names remembered at once: bounded memory under a flood of fresh ones.
MAX_TRACKED = 10_000
# Reachable signed out: signing in, the stylesheet and script, and the box preview's answers
# (embed.js fetches without cookies; they are the public related API's answers).
PUBLIC_ENDPOINTS = {"console.signin", "console.static", "console.box_answer"}


# -- declarations (service/http/contract/operations.py) -------------------------------------------
# Every console route is declared like every other route, but unpublished: these are HTML pages
# and forms for signed-in operators, not the API, so /openapi.json leaves them out
# (tests/service/http/test_console*.py hold them).
TO_SIGN_IN = Reply("Not signed in: sent to the sign-in page.", headers=("Location",))
NO_SUCH = text("No such article or source: a page saying so.", HTML)


def console(
    summary: str, answers: Answers, method: str | None = None, query: type[Query] | None = None
) -> Callable[[F], F]:
    """Declare a console route: tagged `console`, not published."""
    return operation(
        summary=summary,
        tag="console",
        answers=answers,
        method=method,
        query=query,
        published=False,
    )


def page(summary: str, method: str | None = None) -> Callable[[F], F]:
    """A console page (GET): 200 with its HTML, or 302 to sign in; 404 for an unknown thing."""
    return console(
        summary, {200: text("The page.", HTML), 302: TO_SIGN_IN, 404: NO_SUCH}, method=method
    )


def form(summary: str) -> Callable[[F], F]:
    """A console form (POST with the session's CSRF token): 302 back to a page with a message;
    400 (a page in words) for a missing or stale token or a bad field, 404 for an unknown thing."""
    return console(
        summary,
        {
            302: Reply("Done, or refused in words: back to the page.", headers=("Location",)),
            400: text("The form's security token is missing or stale, or a field is bad.", HTML),
            404: NO_SUCH,
        },
    )


@bp.get("/static/<path:filename>", endpoint="static")
@page("The console's stylesheet and script")
def static_file(filename: str) -> Response:
    return send_from_directory(STATIC, filename)


class _Sessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, with the key read from (or made in) the store on first use, so
    the app starts while the store is away."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # Only a request that carries the console's cookie needs it read: building the signing
        # serializer for every API request cost 60 us of a ~300 us related answer; parsing the
        # cookies of a request that has none, ~10 us more.
        if (
            "HTTP_COOKIE" not in request.environ
            or app.config["SESSION_COOKIE_NAME"] not in request.cookies
        ):
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> Any:
        if not app.secret_key:
            try:
                app.secret_key = _secret(app.extensions["quantam"].store)
            except StoreUnavailable:
                return None
        return super().get_signing_serializer(app)


def _secret(store: Store) -> str:
    found = store.get_meta(SECRET_META)
    if found is None:
        with store.lock("console-secret", wait=5.0):
            found = store.get_meta(SECRET_META)
            if found is None:
                found = secrets.token_hex(32).encode()
                store.set_meta(SECRET_META, found)
    return found.decode()


def install(app: Flask) -> None:
    """Session settings for the console (the public endpoints never touch the session)."""
    https = urlsplit(app.config["QUANTAM_SETTINGS"].base_url).scheme == "https"
    app.session_interface = _Sessions()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.extensions["quantam.signin_limit"] = Limiter()


class Limiter:
    """Failed sign-ins per key in a sliding window, in this process (each worker counts its
    own: with 4 workers an attacker gets 4 x MAX_FAILURES tries per window, still hopeless)."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds until a sign-in for these keys may be tried again (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key in keys:
                seen = self._failures.get(key)
                while seen and seen[0] <= now - WINDOW:
                    seen.popleft()
                if seen and len(seen) >= MAX_FAILURES:
                    waits.append(int(seen[0] + WINDOW - now) + 1)
            return max(waits, default=0)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque(maxlen=MAX_FAILURES)).append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)


def _store() -> Store:
    store: Store = current_app.extensions["quantam"].store
    return store


def _fingerprint(user: User) -> str:
    return hashlib.blake2b(user.password_hash.encode(), digest_size=8).hexdigest()


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def signed_in() -> str | None:
    """The signed-in user's name, or None (a removed user or a changed password signs out)."""
    name = session.get("user")
    if not name:
        return None
    user = _store().get_user(name)
    if user is None or session.get("fp") != _fingerprint(user):
        session.pop("user", None)
        return None
    return str(name)


def audit(action: str, target: str = "", detail: str = "") -> None:
    _store().add_audit(AuditEntry(session.get("user", "?"), action, target, detail))


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "csrf_token": csrf_token,
        "user": session.get("user"),
        "site_name": current_app.extensions["quantam"].settings.site_name,
    }


@bp.before_request
def _guard() -> Response | None:
    """Every console request: a form must carry the session's CSRF token, and every page but
    sign-in needs a signed-in user (others are sent to sign in)."""
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
            abort(
                400,
                "The form's security token is missing or out of date: go back, reload the "
                "page and send the form again.",
            )
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if signed_in() is None:
        return redirect(url_for("console.signin", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    """Console pages show what only operators may see: no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site (an open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("console.overview")


@bp.route("/signin", methods=["GET", "POST"])
@page("The sign-in page", method="GET")
@console(
    "Sign in (name, password, CSRF token)",
    {
        302: Reply("Signed in: to the page asked for.", headers=("Location",)),
        400: text("The form's security token is missing or stale.", HTML),
        401: text("The name or password is wrong: the page again, saying so.", HTML),
        429: text("Too many failed sign-ins: the page again, saying when to retry.", HTML),
    },
    method="POST",
)
def signin() -> Any:
    store = _store()
    no_users = not store.list_users()
    if request.method == "GET":
        csrf_token()
        return render_template("signin.html", no_users=no_users, next=request.args.get("next"))
    name = request.form.get("name", "").strip()[:64]
    password = request.form.get("password", "")
    limiter: Limiter = current_app.extensions["quantam.signin_limit"]
    keys = (f"addr:{request.remote_addr}", f"name:{name.casefold()}")
    wait = limiter.retry_after(*keys)
    if wait:
        page = render_template(
            "signin.html",
            no_users=no_users,
            next=request.form.get("next"),
            error=f"Too many failed sign-ins: try again in {wait // 60 + 1} minutes.",
        )
        return page, 429, {"Retry-After": str(wait)}
    user = store.get_user(name) if name else None
    # A wrong name costs the same time as a wrong password.
    ok = verify_password(user.password_hash if user else dummy_hash(), password)
    if user is None or not ok:
        limiter.failed(*keys)
        page = render_template(
            "signin.html",
            no_users=no_users,
            next=request.form.get("next"),
            error="The name or password is wrong.",
        )
        return page, 401
    session.clear()
    session.permanent = True
    session.update(user=user.name, fp=_fingerprint(user), csrf=secrets.token_urlsafe(32))
    store.add_audit(AuditEntry(user.name, "signed in"))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/signout")
@form("Sign out")
def signout() -> Response:
    name = session.get("user")
    if name:
        _store().add_audit(AuditEntry(name, "signed out"))
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("console.signin"))
