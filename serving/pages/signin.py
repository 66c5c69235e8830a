"""Signing in with an API key, signing out, and switching the language of the pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serving.keys import KeyStore
from serving.pages.errors import PageError
from serving.pages.i18n import LANGUAGES, resolve_language
from serving.pages.rendering import redirect, render
from serving.pages.session import (
    LANGUAGE_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_ROLES,
    SIGNIN_COOKIE,
    ViewerDep,
    check_csrf,
    check_same_origin,
    clear_cookie,
    end_session,
    pages_settings,
    safe_next,
    set_cookie,
    start_session,
)
from serving.pages.signin_throttle import SignInThrottle

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_SIGNIN_TOKEN_AGE = 3600


def signin_throttle(request: Request) -> SignInThrottle:
    """The app's throttle, made on first use from the pages' settings (tests swap settings)."""
    throttle = getattr(request.app.state, "signin_throttle", None)
    if throttle is None:
        settings = pages_settings(request)
        throttle = SignInThrottle(settings.signin_max_failures, settings.signin_window_s)
        request.app.state.signin_throttle = throttle
    return throttle


_LANGUAGE_AGE = 365 * 24 * 3600


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return redirect(f"{PREFIX}/unit")


def _signin_page(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        {"csrf_token": token, "next": safe_next(next_url), "error": error},
        status_code=status_code,
    )
    set_cookie(response, request, SIGNIN_COOKIE, token, _SIGNIN_TOKEN_AGE, samesite="strict")
    return response


@router.get("/masuk", response_class=HTMLResponse)
def signin_form(request: Request, next: Annotated[str, Query(max_length=500)] = "") -> HTMLResponse:
    return _signin_page(request, next)


@router.post("/masuk")
def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Verify the key like the API does; managers (and the training unit's keys) get a session."""
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    try:
        check_csrf(request, expected, csrf_token)
    except PageError:
        return _signin_page(request, next, "error_form_expired", 400)
    throttle = signin_throttle(request)
    client = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(client)
    if wait:
        refused = _signin_page(request, next, "error_throttled", 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    store: KeyStore = request.app.state.keys
    key = store.verify(api_key.strip()) if api_key.strip() else None
    if key is None:
        throttle.failed(client)
        return _signin_page(request, next, "error_bad_key", 401)
    if key.role not in SIGN_IN_ROLES:
        return _signin_page(request, next, "error_role", 403)
    throttle.succeeded(client)
    response = redirect(safe_next(next))
    start_session(response, request, key)
    clear_cookie(response, request, SIGNIN_COOKIE)
    return response


@router.post("/keluar")
def signout(
    request: Request,
    viewer: ViewerDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    check_csrf(request, viewer.csrf, csrf_token)
    end_session(request.app.state.sessions, viewer)
    response = redirect(f"{PREFIX}/masuk")
    clear_cookie(response, request, SESSION_COOKIE)
    return response


@router.get("/bahasa")
def switch_language(
    request: Request,
    lang: Annotated[str, Query(max_length=5)] = "",
    next: Annotated[str, Query(max_length=500)] = "",
) -> RedirectResponse:
    """Remember the language (Bahasa Indonesia by default) and go back to the page."""
    check_same_origin(request)
    response = redirect(safe_next(next))
    if lang in LANGUAGES:
        set_cookie(response, request, LANGUAGE_COOKIE, resolve_language(lang), _LANGUAGE_AGE)
    return response
