"""Browser security for every response: headers, and CSRF checks on cookie-authenticated writes.

CSRF uses two independent checks, both required for a state change made with the session cookie:

* the ``Origin`` (or, without it, ``Referer``) must be this site: a page on another origin,
  even one on the same registrable site (which ``SameSite`` lets through), is refused;
* an ``X-CSRF-Token`` header equal to HMAC(secret key, session id). The value travels to the
  page's script in a readable cookie, but the server never trusts that cookie: it recomputes
  the token from the session, so a cookie planted by a sibling sub-domain is useless.

Machine clients authenticate with ``Authorization: Bearer`` and carry no ambient credential a
foreign page could use, so they are exempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "ocr_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Logging in replaces whatever session the browser had (possibly an expired one whose token the
# page no longer knows); the Origin check still applies to it.
TOKEN_EXEMPT_PATHS = frozenset({"/api/v1/auth/login"})

# No inline script anywhere (swagger is initialised from a static file too). Inline style
# attributes stay allowed: page overlays position boxes with them, and style cannot run code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_STATIC_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def csrf_token_for(*, secret_key: str, session_id: str) -> str:
    """The CSRF token bound to one login session (changes whenever the session id rotates)."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def _same_origin(value: str, hosts: set[str]) -> bool:
    if not value or value == "null":
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and parts.netloc.lower() in hosts


class SecurityMiddleware:
    """Pure ASGI middleware (streams untouched): refuses cross-site writes, adds headers."""

    def __init__(
        self, app: ASGIApp, *, secret_key: str, session_cookie: str, public_origins: list[str] | None = None
    ) -> None:
        self.app = app
        self.secret_key = secret_key
        self.session_cookie = session_cookie
        self.public_hosts = {urlsplit(o).netloc.lower() for o in public_origins or []}

    def _csrf_refusal(self, scope: Scope) -> str | None:
        if scope["method"] not in UNSAFE_METHODS:
            return None
        headers = Headers(scope=scope)
        if headers.get("authorization", "").lower().startswith("bearer "):
            return None
        hosts = {headers.get("host", "").lower(), *self.public_hosts}
        origin = headers.get("origin")
        referer = headers.get("referer")
        if origin is not None and not _same_origin(origin, hosts):
            return "foreign_origin"
        if origin is None and referer is not None and not _same_origin(referer, hosts):
            return "foreign_origin"
        session_id = _cookie(headers, self.session_cookie)
        if session_id is None or scope["path"] in TOKEN_EXEMPT_PATHS:
            return None  # no ambient credential to abuse (login itself is covered by the Origin check)
        expected = csrf_token_for(secret_key=self.secret_key, session_id=session_id)
        # Bytes, not str: compare_digest refuses non-ASCII str, and a hostile header may hold any byte.
        sent = headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(sent, expected.encode()):
            return "csrf_token"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _STATIC_HEADERS:
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
                if not path.startswith("/static/") and "cache-control" not in headers:
                    # Screens and API answers carry personal data: never keep them in a cache.
                    headers["cache-control"] = "no-store"
                    headers["pragma"] = "no-cache"
            await send(message)

        refusal = self._csrf_refusal(scope)
        if refusal is not None:
            message = (
                "別のサイトからの操作は受け付けません。"
                if refusal == "foreign_origin"
                else "画面の有効期限が切れました。ページを再読み込みしてからやり直してください。"
            )
            body = json.dumps({"detail": {"code": "csrf_failed", "message": message}}, ensure_ascii=False)
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send_with_headers)


def _cookie(headers: Headers, name: str) -> str | None:
    for chunk in headers.getlist("cookie"):
        for part in chunk.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                return value
    return None


def safe_next(value: str, default: str = "/review") -> str:
    """Only a path on this site. Refuses ``//host``, ``/\\host``, ``/<TAB>/host`` (browsers drop tabs
    and newlines and read backslashes as slashes), ``https:host`` and anything with a scheme or host."""
    if not value.startswith("/") or any(ch == "\\" or ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return default
    if value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
