"""Level estimates with uncertainty: exact posterior on hand-made readings, method biases
calibrated on the data, staleness widening the estimate, and P(a above b)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from features import columns as c
from features import level_estimates as le
from features.io import empty_table

AS_OF = pd.Timestamp("2026-01-01")


def tables(rows: list[tuple[str, str, float, str, str]]) -> dict[str, pd.DataFrame]:
    """Empty contract tables but for the employees and these assessments."""
    out = {name: empty_table(name) for name in c.ALL_TABLES}
    frame = pd.DataFrame(rows, columns=[c.NIP, c.COMPETENCY_ID, c.LEVEL, c.ASSESSED_ON, c.METHOD])
    frame[c.ASSESSED_ON] = pd.to_datetime(frame[c.ASSESSED_ON])
    nips = sorted(set(frame[c.NIP]) | {"Z"})
    employees = pd.DataFrame(
        {
            c.NIP: nips,
            c.TMT_CPNS: pd.Timestamp("2010-01-01"),
            c.SUPERVISOR_NIP: pd.array([None] * len(nips), dtype="str"),
            c.ACTIVE: True,
        }
    )
    out[c.ASSESSMENTS], out[c.EMPLOYEES] = frame, employees
    return out


def keys(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=[c.NIP, c.COMPETENCY_ID, c.REQUIRED_LEVEL])


def test_posterior_is_precision_weighted() -> None:
    t = tables([("A", "K", 3.0, "2026-01-01", "assessment_center")])
    biases = {m: d[0] for m, d in le.METHOD_DEFAULTS.items()}
    out = le.level_estimates(t, AS_OF, keys(("A", "K", 4.0)), biases=biases)
    # Offset of the prior: the one reading is 1 below its requirement.
    prior_mean, prior_var, var = 4.0 - 1.0, le.PRIOR_SD**2, 0.45**2
    expected = (prior_mean / prior_var + 3.0 / var) / (1 / prior_var + 1 / var)
    assert out[le.LEVEL_MEAN].iloc[0] == pytest.approx(expected)
    assert out[le.LEVEL_SD].iloc[0] == pytest.approx((1 / prior_var + 1 / var) ** -0.5)
    assert out[le.N_READINGS].iloc[0] == 1


def test_never_assessed_gets_the_prior() -> None:
    t = tables([("A", "K", 3.0, "2026-01-01", "assessment_center")])
    out = le.level_estimates(t, AS_OF, keys(("Z", "K", 3.0), ("Z", "Q", np.nan)))
    assert out[le.LEVEL_SD].tolist() == [le.PRIOR_SD, le.UNREQUIRED_PRIOR_SD]
    assert out[le.N_READINGS].tolist() == [0, 0]


def test_self_assessment_bias_is_calibrated_and_removed() -> None:
    rows = []
    for i in range(60):
        rows.append((f"P{i}", "K", 2.0 + i % 3, "2025-06-01", "assessment_center"))
        rows.append((f"P{i}", "K", 3.0 + i % 3, "2025-06-02", "mandiri"))
    biases = le.method_biases(tables(rows)[c.ASSESSMENTS])
    # 60 people one level high, shrunk with 20 pseudo-people toward the default 0.4.
    assert biases["mandiri"] == pytest.approx((60 * 1.0 + 20 * 0.4) / 80)
    assert biases["assessment_center"] == 0.0
    debiased = le.debiased_tables(tables(rows))[c.ASSESSMENTS]
    own = debiased[debiased[c.METHOD] == "mandiri"][c.LEVEL].to_numpy()
    np.testing.assert_allclose(own, [3.0 + i % 3 - biases["mandiri"] for i in range(60)])


def test_old_readings_weigh_less() -> None:
    t = tables(
        [
            ("A", "K", 2.0, "2020-01-01", "assessment_center"),
            ("B", "K", 2.0, "2025-12-01", "assessment_center"),
        ]
    )
    out = le.level_estimates(t, AS_OF, keys(("A", "K", np.nan), ("B", "K", np.nan)))
    stale, fresh = out[le.LEVEL_SD].to_numpy()
    assert stale > fresh


def test_p_above() -> None:
    assert le.p_above(3.0, 0.0, 2.0, 0.5) == pytest.approx(0.97725, abs=1e-4)
    np.testing.assert_allclose(le.p_above([2.0, 1.0], [0.3, 0.3], [2.0, 3.0], [0.4, 0.4]),
                               [0.5, ndtr(-4.0)], atol=1e-9)  # fmt: skip


def test_uncertainty_widens_when_later_readings_disagree() -> None:
    steady, jumpy = [], []
    for i in range(40):
        steady += [(f"P{i}", "K", 3.0, "2024-01-01", "assessment_center"),
                   (f"P{i}", "K", 3.0, "2025-01-01", "assessment_center")]  # fmt: skip
        jump = 2.0 if i % 2 else -2.0
        jumpy += [(f"P{i}", "K", 3.0, "2024-01-01", "assessment_center"),
                  (f"P{i}", "K", 3.0 + jump, "2025-01-01", "assessment_center")]  # fmt: skip
    biases = {m: d[0] for m, d in le.METHOD_DEFAULTS.items()}
    assert le.sd_scale(tables(steady)[c.ASSESSMENTS], biases) == 1.0
    assert le.sd_scale(tables(jumpy)[c.ASSESSMENTS], biases) == le.MAX_SD_SCALE
