"""The last guard before anything leaves for MLflow: no clear NIP (UU 27/2022).

An NIP is 18 digits; pseudonyms (`features.pseudonym`) are not. Training and serving both call
these checks, so a leak is refused in one place, the same way.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

NIP_PATTERN = re.compile(r"(?<!\d)\d{18}(?!\d)")


class PersonalDataError(ValueError):
    """Something about to reach MLflow looks like a clear-text NIP."""


def refuse_nip_like(text: str, where: str) -> None:
    """Raise when `text` holds an 18-digit run (an NIP-shaped value)."""
    if NIP_PATTERN.search(text):
        raise PersonalDataError(f"{where}: holds an NIP-like value; refusing to send it to MLflow")


def assert_no_personal_data(value: Any, where: str) -> None:
    """`refuse_nip_like` on a DataFrame's text columns, a mapping, a list or a string.

    Numeric columns are not scanned: a float's digits are not an NIP (and identifiers are
    strings by contract, so an NIP never hides in a numeric column).
    """
    if isinstance(value, pd.DataFrame):
        for col in value.columns:
            if value[col].dtype == object or pd.api.types.is_string_dtype(value[col]):
                hits = value[col].astype(str).str.contains(NIP_PATTERN, na=False)
                if bool(hits.any()):
                    raise PersonalDataError(f"{where}: column {col!r} holds NIP-like values")
        return
    for text in _strings(value):
        refuse_nip_like(text, where)


def _strings(value: Any) -> list[str]:
    """The text leaves (and keys) of a nested value; numbers are not text (see above)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out = [str(k) for k in value]
        for v in value.values():
            out.extend(_strings(v))
        return out
    if isinstance(value, (list, tuple, set)):
        return [t for v in value for t in _strings(v)]
    if value is None or isinstance(value, (bool, int, float)):
        return []
    return [str(value)]
