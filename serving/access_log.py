"""The access log without clear NIPs: paths such as /v1/employees/{nip}/plan carry one.

uvicorn logs every request line; UU 27/2022 makes the NIP personal data, so the filter swaps
each NIP-shaped number in the line for its pseudonym (the same one MLflow sees, so an operator
can still follow one employee's requests across logs and prediction tables). The API accepts
NIPs written in groups (`19801209 200312 2 001`) and paths arrive percent-encoded, so 18 digits
with separators (spaces, `+ - . _`, their %-escapes) or as %-escaped digits count too.
"""

from __future__ import annotations

import logging
import re
from functools import cached_property

from features.pseudonym import pseudonymize

_DIGIT = r"(?:\d|%3\d)"
_SEPARATOR = r"(?:[ \t+._\-]|%20|%2[bBdDeE]|%5[fF]|%09)*"
#: 18 digits, each maybe %-escaped, maybe separated; not part of a longer digit run.
LOGGED_NIP = re.compile(rf"(?<!\d){_DIGIT}(?:{_SEPARATOR}{_DIGIT}){{17}}(?!\d|%3\d)")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class RedactNipFilter(logging.Filter):
    """Rewrites uvicorn.access records' arguments; never drops a record."""

    def __init__(self, name: str = "", key: str | None = None) -> None:
        super().__init__(name)
        self._key = key

    @cached_property
    def key(self) -> str:
        if self._key is not None:
            return self._key
        from features.settings import get_settings

        return get_settings().pseudonym_key

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) and _has_nip(a) for a in args):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str) and _has_nip(record.msg):
            record.msg = self.redact(record.msg)
        return True

    def redact(self, text: str) -> str:
        return LOGGED_NIP.sub(lambda m: pseudonymize(nip_digits(m.group()), self.key), text)


def nip_digits(match: str) -> str:
    """The 18 digits of a logged NIP, whatever its grouping or escaping."""
    decoded = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), match)
    return "".join(ch for ch in decoded if ch.isdigit())


def _has_nip(text: str) -> bool:
    return len(text) >= 18 and LOGGED_NIP.search(text) is not None


def install(log_config: dict) -> dict:
    """`log_config` (uvicorn's dictConfig) with the filter on the access handler."""
    log_config.setdefault("filters", {})["redact_nip"] = {"()": RedactNipFilter}
    log_config["handlers"]["access"].setdefault("filters", []).append("redact_nip")
    return log_config
