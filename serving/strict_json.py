"""Strict JSON at the service's edge: NaN and infinities are refused, and 422 bodies always
serialise.

Python's `json` reads `NaN`, `Infinity` and `1e999` although JSON has no such numbers; FastAPI
then echoed the value in its 422 body, whose encoder refuses it, and the client got a 500. The
middleware answers such a body with a 422 before any handler sees it (the precomputed routes
parse bodies themselves, so a handler-level check would miss them), and the validation error
handler makes whatever a 422 echoes JSON-safe.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NON_FINITE_MESSAGE = (
    "NaN, Infinity and numbers beyond the float range are not JSON numbers; "
    "send a finite number (or null where the field allows it)"
)


class _NonFinite(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> float:
    raise _NonFinite(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _NonFinite(token)
    return value


#: Where the middleware leaves a body it parsed (`scope[PARSED_BODY]`): the value, for the
#: routes that read JSON themselves (no second parse).
PARSED_BODY = "kompeten.parsed_json"
_UNPARSED = object()


def parse_strict(body: bytes) -> tuple[Any, str | None]:
    """(the parsed body, None); (None, token) for the first NaN/Infinity/overflowing number;
    (`_UNPARSED`, None) for a body that is not JSON at all (left to the handler's 400/422)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float), None
    except _NonFinite as exc:
        return None, exc.token[:40]
    except (ValueError, RecursionError):
        return _UNPARSED, None


def non_finite_token(body: bytes) -> str | None:
    """The first NaN/Infinity/overflowing number in a JSON body, or None.

    A body that is not JSON at all is left to the handler's own 400/422.
    """
    return parse_strict(body)[1]


def parsed_body(scope: Scope) -> tuple[bool, Any]:
    """(True, value) when the middleware parsed this request's JSON body, else (False, None)."""
    value = scope.get(PARSED_BODY, _UNPARSED)
    return (False, None) if value is _UNPARSED else (True, value)


def non_finite_error(token: str) -> dict[str, Any]:
    return {"type": "finite_number", "loc": ["body"], "msg": NON_FINITE_MESSAGE, "input": token}


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            return b"json" in value.lower()
    return False


class StrictJsonMiddleware:
    """Reads a JSON request body once, refuses non-finite numbers (422), replays the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        value, token = parse_strict(body)
        if token is not None:
            response = JSONResponse({"detail": [non_finite_error(token)]}, status_code=422)
            await response(scope, receive, send)
            return
        scope[PARSED_BODY] = value
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, replay(whole, receive), send)


def replay(first: Message, receive: Receive) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        return await receive()

    return replay


#: Characters of an offending string a 422 echoes back (a 5 MB NIP is not echoed whole), and
#: items of an offending list or object.
ECHO_CHARS = 64
ECHO_ITEMS = 10


def short_echo(value: Any, depth: int = 0) -> Any:
    """At most a short prefix of what a client sent, to echo in an error body."""
    if isinstance(value, str):
        if len(value) <= ECHO_CHARS:
            return value
        return f"{value[:ECHO_CHARS]}… ({len(value)} characters)"
    if isinstance(value, bytes | bytearray):
        return short_echo(bytes(value).decode("utf-8", "replace"), depth)
    if depth >= 3 and isinstance(value, dict | list | tuple):
        return f"… ({len(value)} items)"
    if isinstance(value, dict):
        items = list(value.items())
        out = {
            short_echo(str(k), depth + 1): short_echo(v, depth + 1) for k, v in items[:ECHO_ITEMS]
        }
        if len(items) > ECHO_ITEMS:
            out["…"] = f"{len(items) - ECHO_ITEMS} more keys"
        return out
    if isinstance(value, list | tuple):
        shown = [short_echo(v, depth + 1) for v in value[:ECHO_ITEMS]]
        if len(value) > ECHO_ITEMS:
            shown.append(f"… ({len(value) - ECHO_ITEMS} more items)")
        return shown
    return value


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as strings and anything else unencodable as its repr."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return repr(value)[:200]


def safe_error(error: Any) -> Any:
    """One validation error as a 422 may echo it: JSON-safe, the offending value shortened."""
    if isinstance(error, dict):
        error = {k: short_echo(v) if k in ("input", "ctx") else v for k, v in error.items()}
    try:
        return json_safe(jsonable_encoder(error))
    except Exception:  # an input jsonable_encoder cannot walk: repr what it cannot
        return json_safe(error)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body (`{"detail": [errors]}`), made JSON-safe whatever the input was."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [safe_error(e) for e in errors]}, status_code=422)
