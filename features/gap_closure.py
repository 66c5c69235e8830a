"""The per-employee gap-closure frame: what the hidden-truth evaluator (`demo_data.truth`) and
the observed-benefit estimator (`model.benefit`) both return, so evaluation reads them alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features import columns as c

GAP_BEFORE = "gap_before"
GAP_AFTER = "gap_after"
GAP_CLOSED = "gap_closed"
EXPECTED_COMPLETIONS = "expected_completions"


def closure_frame(
    nips: pd.Index | np.ndarray,
    gap_before: np.ndarray,
    gap_after: np.ndarray,
    completions: np.ndarray,
) -> pd.DataFrame:
    """One row per employee: total gap before and after the plan, the gap closed, and the
    expected number of courses completed."""
    return pd.DataFrame(
        {
            c.NIP: pd.Series(nips, dtype="str"),
            GAP_BEFORE: gap_before,
            GAP_AFTER: gap_after,
            GAP_CLOSED: gap_before - gap_after,
            EXPECTED_COMPLETIONS: completions,
        }
    )
