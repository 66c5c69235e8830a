"""The dates of the time split: the data's first date, the yearly snapshots with a full label
window for the recommender, the quarterly ones for the risk model (one-year horizon).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from features import columns as c

HORIZON_DAYS = 365


def earliest_date(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    values = [
        tables[c.ASSESSMENTS][c.ASSESSED_ON].min(),
        tables[c.ENROLLMENTS][c.START_DATE].min(),
    ]
    return min(pd.Timestamp(v) for v in values if pd.notna(v)).normalize()


def snapshot_dates(
    start: pd.Timestamp, label_end: pd.Timestamp, horizon_days: int = HORIZON_DAYS
) -> list[pd.Timestamp]:
    """Yearly snapshots d with a full label window (d, d + horizon] ending by `label_end`.

    The first snapshot needs ~6 months of history before it so its features mean something.
    """
    dates = []
    d = label_end - pd.Timedelta(days=horizon_days)
    floor = start + pd.Timedelta(days=180)
    while d >= floor:
        dates.append(d)
        d = d - pd.Timedelta(days=horizon_days)
    return sorted(dates)


def risk_snapshots(tables: Mapping[str, pd.DataFrame], label_end: pd.Timestamp) -> list:
    """Quarterly snapshots (up to 8) whose one-year label window ends by `label_end`."""
    from features.risk_features import training_snapshots

    floor = earliest_date(tables) + pd.Timedelta(days=180)
    return training_snapshots(label_end, horizon_days=HORIZON_DAYS, earliest=floor)
