"""Learning from courses: which courses people choose, who completes (by the hidden truth), the
assessment methods, and the latent level each completion adds.
"""

from __future__ import annotations

import numpy as np

from demo_data import catalog as cat
from demo_data import truth as dt
from demo_data.arrays import NAT, cumulative_weights
from demo_data.reference import METHODS

#: Expected enrollments per person per quarter (scaled by engagement).
ENROLL_RATE = 0.65


ASSESS_RATE = 0.14  # assessment events per person per quarter


PREREQ_WAIVED = 0.15  # share of enrollments let in without the prerequisite completed


ON_THE_JOB_GAIN = 0.008  # latent level gained per quarter on required competencies


METHOD_WEIGHT = {  # by position category, in the order of ASSESSMENT_METHODS
    "administrator": (0.35, 0.15, 0.3, 0.2),
    "pengawas": (0.3, 0.2, 0.3, 0.2),
    "jpt": (0.5, 0.1, 0.3, 0.1),
}


DEFAULT_METHOD_WEIGHT = (0.1, 0.3, 0.25, 0.35)


def course_weights(catalog: dict, req_by_position: np.ndarray):
    """Cumulative course-choice distribution per position: popularity x relevance x fit."""
    comp, band_min = catalog["comp"], catalog["band_min"]
    technical = np.array([kind == "teknis" for _, _, kind in cat.COMPETENCIES])
    rel = np.zeros((len(req_by_position), len(catalog["ids"])))
    for slot in range(comp.shape[1]):
        valid = comp[:, slot] >= 0
        cid = np.maximum(comp[:, slot], 0)
        req = req_by_position[:, cid]
        value = np.where(req > 0, np.where(technical[cid], 4.0, 1.5), 0.3)
        fit = np.where(band_min[:, slot] <= req + 1, 1.0, 0.4)
        rel = np.maximum(rel, np.where(valid, value * fit, 0.0))
    weights = rel * catalog["popularity"][None, :]
    return cumulative_weights(weights), cumulative_weights(weights * catalog["active"][None, :])


def method_coverage() -> np.ndarray:
    kinds = np.array([kind for _, _, kind in cat.COMPETENCIES])
    cover = {
        "managerial": kinds != "teknis",
        "technical": kinds == "teknis",
        "all": np.ones(len(kinds), dtype=bool),
    }
    return np.array([cover[v[0]] for v in METHODS.values()])


def enroll_outcomes(
    rng,
    person,
    course,
    start,
    catalog,
    traits,
    mode_base,
    levels,
    learning_rate,
    left_day,
    until_day,
) -> dict:
    """Status (0 completed, 1 dropped, 2 no_show, 3 ongoing), end day and post-test score."""
    mode = catalog["mode"][course]
    hours = catalog["hours"][course]
    n = len(person)
    duration = _duration_days(rng, mode, hours)
    engagement = traits["engagement"][person]
    p_complete = dt.completion_probability(
        engagement, traits["affinity"][person, mode], mode_base[mode], hours
    )
    completed = rng.random(n) < p_complete
    no_show = ~completed & (rng.random(n) < 1 / (1 + np.exp(0.4 + 0.9 * engagement)))
    status = np.where(completed, 0, np.where(no_show, 2, 1))
    drop_after = np.maximum(1, np.floor(rng.uniform(0.1, 0.8, n) * duration)).astype(np.int64)
    end = np.where(completed, start + duration, np.where(no_show, NAT, start + drop_after))
    # people who leave the service mid-course drop it on their last day
    left = (end != NAT) & (end >= left_day[person])
    status = np.where(left, 1, status)
    end = np.where(left, np.maximum(start, left_day[person] - 1), end)
    ongoing = (end != NAT) & (end > until_day)
    status = np.where(ongoing, 3, status)
    end = np.where(ongoing, NAT, end)

    comp0 = catalog["comp"][course, 0]
    level0 = levels[person, comp0]
    gain0 = dt.course_gain(
        level0,
        catalog["gain"][course, 0],
        catalog["band_min"][course, 0],
        catalog["band_target"][course, 0],
        learning_rate[person],
    )
    score = (
        58
        + 8 * np.clip(level0 - catalog["band_min"][course, 0], -2, 2)
        + 30 * gain0
        + 4 * engagement
        + 7 * rng.standard_normal(n)
    )
    score = np.where(status == 0, np.round(np.clip(score, 0, 100), 1), np.nan)
    return {
        "person": person,
        "course": course,
        "start": start,
        "end": end,
        "status": status,
        "score": score,
    }


def _duration_days(rng, mode: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Calendar days a course runs: JP per day by mode, guided formats spread over weeks."""
    per_day = np.array([7.0, 1.5, 3.0, 8.0, 8.0, 0.4, 0.3, 6.0])[mode]  # klasikal..magang
    days = np.ceil(hours / per_day * 1.4) + rng.integers(0, 3, len(mode))
    return np.maximum(1, days).astype(np.int64)


def apply_course_gains(levels, pending, q, catalog, learning_rate):
    due = pending["due"] == q
    person, course, noise = pending["person"][due], pending["course"][due], pending["noise"][due]
    for slot in range(catalog["comp"].shape[1]):
        comp = catalog["comp"][course, slot]
        ok = comp >= 0
        p, k = person[ok], comp[ok]
        gain = dt.course_gain(
            levels[p, k],
            catalog["gain"][course[ok], slot],
            catalog["band_min"][course[ok], slot],
            catalog["band_target"][course[ok], slot],
            learning_rate[p],
        )
        np.add.at(levels, (p, k), gain * noise[ok])
    return {key: value[~due] for key, value in pending.items()}
