"""The access log without clear NIPs: paths such as /v1/employees/{nip}/plan carry one.

uvicorn logs every request line; UU 27/2022 makes the NIP personal data, so the filter swaps
each NIP-shaped number in the line for its pseudonym (the same one MLflow sees, so an operator
can still follow one employee's requests across logs and prediction tables).
"""

from __future__ import annotations

import logging
from functools import cached_property

from features.privacy import NIP_PATTERN
from features.pseudonym import pseudonymize


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
        return NIP_PATTERN.sub(lambda m: pseudonymize(m.group(), self.key), text)


def _has_nip(text: str) -> bool:
    return len(text) >= 18 and NIP_PATTERN.search(text) is not None


def install(log_config: dict) -> dict:
    """`log_config` (uvicorn's dictConfig) with the filter on the access handler."""
    log_config.setdefault("filters", {})["redact_nip"] = {"()": RedactNipFilter}
    log_config["handlers"]["access"].setdefault("filters", []).append("redact_nip")
    return log_config
