"""Each person's level per competency as an estimate with its uncertainty, from all assessments.

An assessed level is a noisy reading whose quality depends on how it was taken: an assessment
centre or an uji kompetensi is scored in whole levels by assessors, a 360-degree review
averages colleagues, a self-assessment (mandiri) runs high. And a reading grows stale: people
keep developing after it. So instead of the latest reading, each (person, competency) gets a
precision-weighted (normal-normal Bayesian) estimate:

- prior: the level the person's position requires (what its incumbents are selected and
  developed toward) plus the population's mean offset from it (calibrated on the debiased
  assessments: staff are typically somewhat below their requirement), sd `PRIOR_SD`; a
  competency the position does not require starts at the mean debiased assessed level of such
  competencies (`UNREQUIRED_PRIOR_MEAN` without any), sd `UNREQUIRED_PRIOR_SD`;
- each assessment: its level minus the method's bias plus the growth expected since it was
  taken (the population's mean level change per year between repeated readings of the same
  person and competency, `growth_per_year`, within 0..`MAX_GROWTH_PER_YEAR`), with variance =
  the method's noise variance + `DRIFT_SD_PER_YEAR`^2 x its age in years.

Method biases are calibrated on the data itself, relative to the reference methods
(assessment centre and uji kompetensi, assumed unbiased): for every (person, competency)
assessed by both a method and a reference method, the difference of their means; the average
over people is shrunk toward the documented default `METHOD_DEFAULTS` with `BIAS_PRIOR_N`
pseudo-people. The noise levels are the documented defaults (a data set rarely holds enough
repeated readings to estimate them per method).

The stated sd is finally widened by `sd_scale`: how far later readings actually fell from
what the earlier ones predicted, so that "99% sure" means it on this data set.

`p_above(mean_a, sd_a, mean_b, sd_b)` then says how sure it is that a is above b.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import ndtr

from features import columns as c
from features.as_of import AsOfLike, day_number, days_since_epoch, tables_as_of

LEVEL_MEAN = "level_mean"
LEVEL_SD = "level_sd"
N_READINGS = "n_readings"
LEVEL_ESTIMATE_COLUMNS = (c.NIP, c.COMPETENCY_ID, LEVEL_MEAN, LEVEL_SD, N_READINGS)

#: Method -> (default bias, noise sd incl. rounding to whole levels). References have bias 0.
METHOD_DEFAULTS: Mapping[str, tuple[float, float]] = {
    "assessment_center": (0.0, 0.45),
    "uji_kompetensi": (0.0, 0.5),
    "penilaian_360": (0.1, 0.35),
    "mandiri": (0.4, 0.6),
}
REFERENCE_METHODS = ("assessment_center", "uji_kompetensi")
#: Sd of a reading of unknown method.
UNKNOWN_METHOD_SD = 0.6
BIAS_PRIOR_N = 20.0
PRIOR_SD = 0.8
UNREQUIRED_PRIOR_MEAN = 1.5
UNREQUIRED_PRIOR_SD = 1.0
DRIFT_SD_PER_YEAR = 0.35
MAX_GROWTH_PER_YEAR = 0.5
#: Bounds of the calibration of the uncertainty on later readings (`sd_scale`).
MAX_SD_SCALE = 2.0
MIN_SD_CHECKS = 30
#: Readings closer in time than this do not inform the growth rate.
_MIN_GROWTH_SPAN_YEARS = 0.5
_DAYS_PER_YEAR = 365.25
#: Lead (levels) at which a mentor passes on 63% of what a very large lead would.
HEADROOM_SCALE = 0.75


def method_biases(assessments: pd.DataFrame) -> dict[str, float]:
    """Bias of each method against the reference methods, calibrated on `assessments`."""
    out = {m: d[0] for m, d in METHOD_DEFAULTS.items()}
    if assessments.empty:
        return out
    key = assessments[c.NIP].astype(str) + "|" + assessments[c.COMPETENCY_ID].astype(str)
    level = assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    method = assessments[c.METHOD].astype(str)
    reference = method.isin(REFERENCE_METHODS).to_numpy()
    ref_mean = pd.Series(level[reference]).groupby(key.to_numpy()[reference]).mean()
    for m in METHOD_DEFAULTS:
        if m in REFERENCE_METHODS:
            continue
        rows = (method == m).to_numpy()
        own = pd.Series(level[rows]).groupby(key.to_numpy()[rows]).mean()
        diff = (own - ref_mean.reindex(own.index)).dropna()
        n = len(diff)
        out[m] = float((diff.sum() + BIAS_PRIOR_N * METHOD_DEFAULTS[m][0]) / (n + BIAS_PRIOR_N))
    return out


def level_estimates(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    keys: pd.DataFrame,
    *,
    biases: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Posterior level mean and sd for the (nip, competency_id, required_level) rows of `keys`.

    `required_level` is NaN where the position does not require the competency. Only the
    assessments visible at `as_of` are read. Rows keep the order of `keys`.
    """
    t = tables_as_of(tables, as_of)
    assessments = t[c.ASSESSMENTS]
    if biases is None:
        biases = method_biases(assessments)
    required = keys[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    offset, unrequired_mean = _prior_calibration(assessments, keys, biases)
    prior_mean = np.where(np.isnan(required), unrequired_mean, required + offset)
    prior_sd = np.where(np.isnan(required), UNREQUIRED_PRIOR_SD, PRIOR_SD)
    precision = 1.0 / prior_sd**2
    weighted = prior_mean * precision
    n_readings = np.zeros(len(keys), dtype=np.int64)

    index = pd.MultiIndex.from_arrays(
        [keys[c.NIP].astype(str).to_numpy(), keys[c.COMPETENCY_ID].astype(str).to_numpy()]
    )
    row = index.get_indexer(
        pd.MultiIndex.from_arrays(
            [
                assessments[c.NIP].astype(str).to_numpy(),
                assessments[c.COMPETENCY_ID].astype(str).to_numpy(),
            ]
        )
    )
    level = assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = (row >= 0) & ~np.isnan(level)
    if ok.any():
        method = assessments[c.METHOD].astype(str).to_numpy()[ok]
        bias = np.array([biases.get(m, 0.0) for m in method])
        noise = np.array([METHOD_DEFAULTS.get(m, (0.0, UNKNOWN_METHOD_SD))[1] for m in method])
        age_years = (
            day_number(t.as_of) - days_since_epoch(assessments[c.ASSESSED_ON])[ok]
        ) / _DAYS_PER_YEAR
        age_years = np.maximum(age_years, 0.0)
        var = noise**2 + DRIFT_SD_PER_YEAR**2 * age_years
        reading = level[ok] - bias + growth_per_year(assessments, biases) * age_years
        r = row[ok]
        precision = precision + np.bincount(r, 1.0 / var, minlength=len(keys))
        weighted = weighted + np.bincount(r, reading / var, minlength=len(keys))
        n_readings = np.bincount(r, minlength=len(keys))
    mean = np.clip(weighted / precision, c.MIN_LEVEL_VALUE, c.MAX_LEVEL_VALUE)
    scale = sd_scale(assessments, biases) if ok.any() else 1.0
    return pd.DataFrame(
        {
            c.NIP: keys[c.NIP].to_numpy(),
            c.COMPETENCY_ID: keys[c.COMPETENCY_ID].to_numpy(),
            LEVEL_MEAN: mean,
            LEVEL_SD: scale / np.sqrt(precision),
            N_READINGS: n_readings,
        },
        index=keys.index,
    )


def sd_scale(assessments: pd.DataFrame, biases: Mapping[str, float]) -> float:
    """How much wider the uncertainty must be to match what later readings showed.

    Each (person, competency) with an earlier reading predicts its last reading from the
    earlier ones (precision-weighted, with growth and staleness as in `level_estimates`); the
    root mean square of the standardised prediction errors says whether the stated
    uncertainty was honest. Real levels move in jumps (a course, a new post) that the model
    does not see, so this is typically somewhat above 1; it is kept within [1, `MAX_SD_SCALE`].
    """
    method = assessments[c.METHOD].astype(str)
    frame = pd.DataFrame(
        {
            "key": assessments[c.NIP].astype(str) + "|" + assessments[c.COMPETENCY_ID].astype(str),
            "day": days_since_epoch(assessments[c.ASSESSED_ON]),
            "level": assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
            - method.map(biases).fillna(0.0).to_numpy(),
            "noise": method.map({m: d[1] for m, d in METHOD_DEFAULTS.items()})
            .fillna(UNKNOWN_METHOD_SD)
            .to_numpy(dtype=np.float64),
        }
    ).dropna()
    frame = frame.sort_values(["key", "day"], kind="stable").reset_index(drop=True)
    codes = pd.factorize(frame["key"])[0]
    is_last = np.r_[codes[1:] != codes[:-1], True]
    lasts = np.flatnonzero(is_last)
    last_row = lasts[np.searchsorted(lasts, np.arange(len(codes)))]
    earlier = ~is_last & (frame["day"].to_numpy() < frame["day"].to_numpy()[last_row])
    if earlier.sum() < MIN_SD_CHECKS:
        return 1.0
    age = (frame["day"].to_numpy()[last_row] - frame["day"].to_numpy()) / _DAYS_PER_YEAR
    var = frame["noise"].to_numpy() ** 2 + DRIFT_SD_PER_YEAR**2 * age
    reading = frame["level"].to_numpy() + growth_per_year(assessments, biases) * age
    n = codes.max() + 1
    prec = np.bincount(codes[earlier], 1.0 / var[earlier], minlength=n)
    mean = np.bincount(codes[earlier], reading[earlier] / var[earlier], minlength=n)
    checked = prec > 0
    last = frame.loc[is_last]
    code_last = codes[is_last]
    ok = checked[code_last]
    pred_mean = mean[code_last][ok] / prec[code_last][ok]
    pred_var = 1.0 / prec[code_last][ok] + last["noise"].to_numpy()[ok] ** 2
    z = (last["level"].to_numpy()[ok] - pred_mean) / np.sqrt(pred_var)
    if len(z) < MIN_SD_CHECKS:
        return 1.0
    return float(np.clip(np.sqrt(np.mean(z**2)), 1.0, MAX_SD_SCALE))


def growth_per_year(assessments: pd.DataFrame, biases: Mapping[str, float]) -> float:
    """Mean debiased level change per year between a person's first and last reading of a
    competency (pairs at least half a year apart), within 0..`MAX_GROWTH_PER_YEAR`."""
    if assessments.empty:
        return 0.0
    bias = assessments[c.METHOD].astype(str).map(biases).fillna(0.0).to_numpy()
    frame = pd.DataFrame(
        {
            "key": assessments[c.NIP].astype(str) + "|" + assessments[c.COMPETENCY_ID].astype(str),
            "day": days_since_epoch(assessments[c.ASSESSED_ON]),
            "level": assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan) - bias,
        }
    ).dropna()
    frame = frame.sort_values(["key", "day"], kind="stable")
    grouped = frame.groupby("key", sort=False)
    first, last = grouped.first(), grouped.last()
    years = (last["day"] - first["day"]).to_numpy(dtype=np.float64) / _DAYS_PER_YEAR
    span = years >= _MIN_GROWTH_SPAN_YEARS
    if not span.any():
        return 0.0
    change = (last["level"] - first["level"]).to_numpy()[span]
    rate = float(change.sum() / years[span].sum())
    return float(np.clip(rate, 0.0, MAX_GROWTH_PER_YEAR))


def _prior_calibration(
    assessments: pd.DataFrame, keys: pd.DataFrame, biases: Mapping[str, float]
) -> tuple[float, float]:
    """(mean debiased level - required level, mean debiased level where not required)."""
    if assessments.empty or keys.empty:
        return 0.0, UNREQUIRED_PRIOR_MEAN
    index = pd.MultiIndex.from_arrays(
        [keys[c.NIP].astype(str).to_numpy(), keys[c.COMPETENCY_ID].astype(str).to_numpy()]
    )
    row = index.get_indexer(
        pd.MultiIndex.from_arrays(
            [
                assessments[c.NIP].astype(str).to_numpy(),
                assessments[c.COMPETENCY_ID].astype(str).to_numpy(),
            ]
        )
    )
    ok = row >= 0
    level = assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)[ok]
    bias = assessments[c.METHOD].astype(str).map(biases).fillna(0.0).to_numpy()[ok]
    required = keys[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)[row[ok]]
    debiased = level - bias
    has_req = ~np.isnan(required) & ~np.isnan(debiased)
    no_req = np.isnan(required) & ~np.isnan(debiased)
    offset = float(np.mean(debiased[has_req] - required[has_req])) if has_req.any() else 0.0
    unrequired = float(np.mean(debiased[no_req])) if no_req.any() else UNREQUIRED_PRIOR_MEAN
    return offset, unrequired


def saturating_headroom(lead: np.ndarray) -> np.ndarray:
    """What a lead of `lead` levels lets a mentor pass on, with diminishing returns:
    1 - exp(-lead / HEADROOM_SCALE), 0 for no lead (NaN stays NaN)."""
    lead = np.asarray(lead, dtype=np.float64)
    return np.where(np.isnan(lead), np.nan, 1.0 - np.exp(-np.maximum(lead, 0.0) / HEADROOM_SCALE))


def p_above(
    mean_a: np.ndarray, sd_a: np.ndarray, mean_b: np.ndarray, sd_b: np.ndarray
) -> np.ndarray:
    """P(level a > level b) for independent normal estimates."""
    diff = np.asarray(mean_a, dtype=np.float64) - np.asarray(mean_b, dtype=np.float64)
    sd = np.sqrt(np.asarray(sd_a, dtype=np.float64) ** 2 + np.asarray(sd_b, dtype=np.float64) ** 2)
    return ndtr(diff / np.maximum(sd, 1e-9))


def debiased_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """`tables` with every assessed level minus its method's calibrated bias.

    A level change between a self-assessment before and an assessment centre after would
    otherwise show the self-assessment's optimism as a loss; track records and training
    targets read level changes from these tables.
    """
    out = dict(tables)
    assessments = tables[c.ASSESSMENTS]
    if assessments.empty:
        return out
    biases = method_biases(assessments)
    bias = assessments[c.METHOD].astype(str).map(biases).fillna(0.0).to_numpy(dtype=np.float64)
    level = assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    out[c.ASSESSMENTS] = assessments.assign(**{c.LEVEL: level - bias})
    return out
