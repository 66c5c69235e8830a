"""Who is looking at a page: the signed session cookie, its CSRF token, and the key behind it.

The cookie holds only the API key's public id, a session id, a CSRF token and an expiry, signed
with HMAC (never the key itself, so a leaked cookie is not an API credential). Every request
looks the key up again, so a revoked key or changed units take effect at once; signing out
records the session id as ended, so a copy of the cookie is refused from then on too. The
cookie is HttpOnly, SameSite=Lax, scoped to /halaman, and Secure over https (or as
configured); form posts must also carry the session's CSRF token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.db import ApiKeyRecord, EndedPageSessionRecord
from serving.deps import app_settings, pages_settings
from serving.keys import READ_ALL, REVIEWERS, ApiKey, Role
from serving.pages.errors import LoginRequired, PageError

PREFIX = "/halaman"
SESSION_COOKIE = "kompeten_sesi"
#: CSRF token of the sign-in form itself (there is no session yet to hold it).
SIGNIN_COOKIE = "kompeten_masuk"
LANGUAGE_COOKIE = "kompeten_bahasa"
#: Roles that may sign in: managers review; HR systems and analysts (the training unit) read.
SIGN_IN_ROLES = REVIEWERS | READ_ALL


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict[str, Any], key: bytes) -> str:
    """`payload` as compact JSON, base64url, a dot and its HMAC-SHA256."""
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(token: str, key: bytes) -> dict[str, Any] | None:
    """The payload of a token signed with `key`, or None if it was altered or is malformed."""
    body, _, mac = token.partition(".")
    if not body or not mac:
        return None
    expected = hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class Viewer:
    """A signed-in caller of the pages."""

    key: ApiKey
    csrf: str
    expires: int
    session_id: str

    @property
    def can_review(self) -> bool:
        return self.key.role in REVIEWERS


def signing_key(request: Request) -> bytes:
    return app_settings(request).session_signing_key()


def is_secure(request: Request) -> bool:
    configured = pages_settings(request).cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    max_age: int,
    *,
    samesite: str = "lax",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        secure=is_secure(request),
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=PREFIX, secure=is_secure(request), httponly=True)


def start_session(response: Response, request: Request, key: ApiKey) -> None:
    """Sign `key` in: a fresh CSRF token, an expiry, the signed cookie."""
    hours = pages_settings(request).session_hours
    expires = int(time.time() + hours * 3600)
    payload = {
        "k": key.key_id,
        "s": secrets.token_urlsafe(18),
        "c": secrets.token_urlsafe(24),
        "e": expires,
    }
    set_cookie(
        response, request, SESSION_COOKIE, sign(payload, signing_key(request)), int(hours * 3600)
    )


def fetch_key(
    sessions: sessionmaker[Session], key_id: str, session_id: str | None = None
) -> ApiKey | None:
    """The key with this id as stored now; None when unknown or revoked, or when the page
    session `session_id` was signed out."""
    with sessions() as session:
        if session_id is not None:
            ended = session.get(EndedPageSessionRecord, session_id)
            if ended is not None:
                return None
        record = session.get(ApiKeyRecord, key_id)
        if record is None or record.revoked_at is not None:
            return None
        return ApiKey(record.key_id, Role(record.role), frozenset(record.units or ()), record.label)


def end_session(sessions: sessionmaker[Session], viewer: Viewer) -> None:
    """Sign-out on the server: the session id is refused until the cookie would expire."""
    with sessions() as session:
        session.execute(
            delete(EndedPageSessionRecord).where(EndedPageSessionRecord.expires_at < time.time())
        )
        session.add(EndedPageSessionRecord(session_id=viewer.session_id, expires_at=viewer.expires))
        try:
            session.commit()
        except IntegrityError:  # signed out twice at once
            session.rollback()


def requested_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def current_viewer(request: Request) -> Viewer:
    """The signed-in viewer (blocking: one key lookup). No valid session: `LoginRequired`."""
    token = request.cookies.get(SESSION_COOKIE)
    payload = unsign(token, signing_key(request)) if token else None
    if not payload or int(payload.get("e", 0)) < time.time() or not payload.get("s"):
        raise LoginRequired(requested_path(request) if request.method == "GET" else PREFIX)
    session_id = str(payload["s"])
    key = fetch_key(request.app.state.sessions, str(payload.get("k", "")), session_id)
    if key is None or key.role not in SIGN_IN_ROLES:
        raise LoginRequired(PREFIX)
    return Viewer(key, str(payload.get("c", "")), int(payload["e"]), session_id)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def check_same_origin(request: Request) -> None:
    """Refuse a form post whose Origin (when the browser sends one) is another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != request.headers.get("host", request.url.netloc):
            raise PageError(403, "error_csrf")


def check_csrf(request: Request, expected: str, submitted: str | None) -> None:
    """A form post must echo the CSRF token it was rendered with (and come from this site)."""
    check_same_origin(request)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise PageError(403, "error_csrf")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of these pages only (no open redirect)."""
    if not value or not value.startswith(PREFIX + "/") or value.startswith("//"):
        return PREFIX + "/unit"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return PREFIX + "/unit"
    return value
