"""Keyed pseudonyms for NIPs, so personal data never reaches MLflow in clear text (UU 27/2022)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import numpy as np
import pandas as pd

PSEUDONYM_PREFIX = "p_"
_LENGTH = 16


def pseudonymize(nip: str, key: str) -> str:
    """Stable keyed hash of one NIP (HMAC-SHA256, truncated): same key, same pseudonym."""
    digest = hmac.new(key.encode(), nip.encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:_LENGTH]


def pseudonymize_many(nips: Iterable[str] | pd.Series, key: str) -> np.ndarray:
    """Pseudonyms for many NIPs (unique values hashed once)."""
    values = pd.Series(list(nips) if not isinstance(nips, pd.Series) else nips, dtype=object)
    uniques = values.dropna().unique()
    mapping = {v: pseudonymize(str(v), key) for v in uniques}
    return values.map(mapping).to_numpy(dtype=object)
