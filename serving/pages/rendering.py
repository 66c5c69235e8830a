"""Rendering the manager pages: the Jinja2 environment, the security headers, error pages.

Templates and static files ship inside the package (`serving/templates`, `serving/static`);
nothing is loaded from a CDN, and the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from serving.deps import pages_settings
from serving.pages.errors import LoginRequired, PageError
from serving.pages.i18n import DEFAULT_LANGUAGE, Translator, resolve_language
from serving.pages.session import LANGUAGE_COOKIE, PREFIX, SESSION_COOKIE, clear_cookie

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_PATH = PREFIX + "/static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages carry personal data: never kept by shared caches or the browser's back cache.
    "Cache-Control": "no-store",
}


def _static_version() -> str:
    """A short hash of the static files, appended to their URLs so a new release is fetched."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = _static_url_factory(_static_version())
    env.globals["PREFIX"] = PREFIX
    env.filters["query"] = _query
    return env


def _static_url_factory(version: str):
    def static_url(name: str) -> str:
        return f"{STATIC_PATH}/{name}?v={version}"

    return static_url


def _query(params: dict[str, Any], **changes: Any) -> str:
    """`?a=1&b=2` from `params` with `changes` applied (None drops a parameter)."""
    merged = {**params, **changes}
    clean = {k: v for k, v in merged.items() if v not in (None, "", False)}
    return "?" + urlencode(clean) if clean else "?"


templates = Jinja2Templates(env=_environment())


def language_of(request: Request) -> str:
    return resolve_language(request.cookies.get(LANGUAGE_COOKIE) or DEFAULT_LANGUAGE)


def translator(request: Request) -> Translator:
    offset = pages_settings(request).display_utc_offset_hours
    return Translator(language_of(request), timedelta(hours=offset))


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A template with the translator `t`, the current path and the security headers."""
    state = request.app.state.holder.state
    base = {
        "t": translator(request),
        "path": request.url.path,
        "full_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "viewer": None,
        "model_version": getattr(state, "model_version", None),
        "as_of": getattr(state, "as_of", None),
    }
    response = templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status_code
    )
    response.headers.update({**SECURITY_HEADERS, **(headers or {})})
    return response


def redirect(url: str, headers: dict[str, str] | None = None) -> RedirectResponse:
    """303 See Other: after a form post the browser follows with a GET (post/redirect/get)."""
    response = RedirectResponse(url, status_code=303)
    response.headers.update({"Cache-Control": "no-store", **(headers or {})})
    return response


async def page_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(
        request,
        "error.html",
        {"status": exc.status, "message_key": exc.message_key},
        status_code=exc.status,
        headers=exc.headers,
    )


async def login_required_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    response = redirect(f"{PREFIX}/masuk?{urlencode({'next': exc.next_url})}")
    if SESSION_COOKIE in request.cookies:
        clear_cookie(response, request, SESSION_COOKIE)
    return response
