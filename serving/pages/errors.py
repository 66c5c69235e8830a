"""What a page handler raises instead of a JSON error: rendered as an HTML page or a redirect."""

from __future__ import annotations

from fastapi import HTTPException


class PageError(Exception):
    """An HTML error page with `status` and the message `message_key` (see `serving.pages.i18n`)."""

    def __init__(
        self, status: int, message_key: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key
        self.headers = headers or {}


class LoginRequired(Exception):
    """No valid session: send the browser to the sign-in page, then back to `next_url`."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


#: Message keys for the HTTP errors the shared API helpers (`serving.deps`) raise.
_HTTP_MESSAGES = {403: "error_forbidden", 404: "error_not_found", 503: "error_not_ready"}


def page_error_from(exc: HTTPException) -> PageError:
    """The page version of an API helper's HTTPException (403 scope, 404 unknown, ...)."""
    key = _HTTP_MESSAGES.get(exc.status_code, "error_generic")
    return PageError(exc.status_code, key, dict(exc.headers or {}))
