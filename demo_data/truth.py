"""The hidden response model of the demo dataset, and how an evaluator scores a plan against it.

`demo_data.history` draws the history with these functions; an evaluator calls
`expected_outcomes` and
`expected_gap_closure` with the truth tables to learn what a recommendation would really
achieve. Both sides share this one module so the evaluation can never drift from the
simulation. Models never read the truth: it is written to a folder beside the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features import columns as c
from features.gap_closure import closure_frame

# --- truth tables and their columns -------------------------------------------------------------
COURSE_EFFECTS = "course_effects"
COURSE_PARAMS = "course_params"
PERSON_TRAITS = "person_traits"
MENTOR_QUALITY = "mentor_quality"
TRUE_LEVELS = "true_levels"
TRUTH_TABLES = (COURSE_EFFECTS, COURSE_PARAMS, PERSON_TRAITS, MENTOR_QUALITY, TRUE_LEVELS)

TRUE_GAIN = "true_gain"
POPULARITY = "popularity"
ENGAGEMENT = "engagement"
FORMAT_PREFERENCE = "format_preference"
LEARNING_RATE = "learning_rate"
ABILITY = "ability"
QUALITY = "quality"
RAPPORT = "rapport"
TRUE_LEVEL = "true_level"
P_COMPLETE = "p_complete"
GAIN_IF_COMPLETED = "gain_if_completed"
EXPECTED_GAIN = "expected_gain"
STEP = "step"


def affinity_column(mode: str) -> str:
    """Name of the person-trait column holding the affinity for one learning mode."""
    return f"affinity_{mode}"


# --- the response model -------------------------------------------------------------------------
#: Baseline log-odds of completing a course, by mode, for an average person.
MODE_BASE_LOGIT = {
    "klasikal": 1.5,
    "e_learning": 0.5,
    "blended": 1.3,
    "workshop": 1.7,
    "seminar": 2.0,
    "coaching": 1.4,
    "mentoring": 1.4,
    "magang": 1.1,
}
#: How strongly each mode responds to a person's `format_preference` (positive = guided,
#: personal formats). People with a high preference drop classroom and self-paced courses but
#: complete coaching, mentoring and blended ones; the sign flips for a low preference.
MODE_FORMAT_LOADING = {
    "klasikal": -0.9,
    "e_learning": -0.9,
    "blended": 0.6,
    "workshop": -0.3,
    "seminar": -0.4,
    "coaching": 1.0,
    "mentoring": 1.0,
    "magang": -0.2,
}
ENGAGEMENT_WEIGHT = 1.3
HOURS_PIVOT = 16
HOURS_SLOPE = 0.025  # log-odds lost per JP above the pivot: long courses are dropped more
#: A course works fully when the participant's level is inside its band (from half a level
#: below `min_level` up to `target_level`); underprepared participants get a fraction of it,
#: and those already at the target almost nothing.
BAND_SLACK = 0.5
BELOW_BAND_FACTOR = 0.35
ABOVE_BAND_FACTOR = 0.1


def completion_probability(
    engagement: np.ndarray, affinity: np.ndarray, mode_base: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """P(complete) of an enrollment: persistent person traits, mode and course length."""
    logit = (
        mode_base
        + ENGAGEMENT_WEIGHT * engagement
        + affinity
        - HOURS_SLOPE * (np.asarray(hours, dtype=float) - HOURS_PIVOT)
    )
    return 1.0 / (1.0 + np.exp(-logit))


def band_factor(level: np.ndarray, min_level: np.ndarray, target_level: np.ndarray) -> np.ndarray:
    """Share of a course's true gain a participant at `level` receives."""
    level = np.asarray(level, dtype=float)
    inside = (level >= min_level - BAND_SLACK) & (level < target_level)
    below = level < min_level - BAND_SLACK
    return np.where(inside, 1.0, np.where(below, BELOW_BAND_FACTOR, ABOVE_BAND_FACTOR))


def course_gain(
    level: np.ndarray,
    true_gain: np.ndarray,
    min_level: np.ndarray,
    target_level: np.ndarray,
    learning_rate: np.ndarray,
) -> np.ndarray:
    """Expected level gain on one competency from completing a course (capped at level 5)."""
    gain = true_gain * band_factor(level, min_level, target_level) * learning_rate
    return np.minimum(gain, c.MAX_LEVEL_VALUE - np.asarray(level, dtype=float))


# --- evaluation API -----------------------------------------------------------------------------


def expected_outcomes(truth: Mapping[str, pd.DataFrame], pairs: pd.DataFrame) -> pd.DataFrame:
    """True completion probability and expected gains of (nip, course_id) pairs at `until`.

    Returns one row per (pair, competency the course covers) with columns nip, course_id,
    competency_id, p_complete, gain_if_completed, expected_gain (= p_complete x gain),
    evaluated at the person's true level at the end of the history. Raises `KeyError` for
    an unknown nip or course_id.
    """
    base = _pair_completion(truth, pairs[[c.NIP, c.COURSE_ID]].reset_index(drop=True))
    effects = truth[COURSE_EFFECTS][
        [c.COURSE_ID, c.COMPETENCY_ID, TRUE_GAIN, c.MIN_LEVEL, c.TARGET_LEVEL]
    ]
    rows = base.merge(effects, on=c.COURSE_ID, how="left", sort=False)
    levels = truth[TRUE_LEVELS][[c.NIP, c.COMPETENCY_ID, TRUE_LEVEL]]
    rows = rows.merge(levels, on=[c.NIP, c.COMPETENCY_ID], how="left", sort=False)
    gain = course_gain(
        rows[TRUE_LEVEL].to_numpy(),
        rows[TRUE_GAIN].to_numpy(),
        rows[c.MIN_LEVEL].to_numpy(),
        rows[c.TARGET_LEVEL].to_numpy(),
        rows[LEARNING_RATE].to_numpy(),
    )
    rows[GAIN_IF_COMPLETED] = gain
    rows[EXPECTED_GAIN] = rows[P_COMPLETE].to_numpy() * gain
    return rows[[c.NIP, c.COURSE_ID, c.COMPETENCY_ID, P_COMPLETE, GAIN_IF_COMPLETED, EXPECTED_GAIN]]


def expected_gap_closure(
    truth: Mapping[str, pd.DataFrame],
    tables: Mapping[str, pd.DataFrame],
    paths: pd.DataFrame,
) -> pd.DataFrame:
    """Expected competency-gap closure of a learning path per employee.

    `paths` has nip, course_id and optionally `step` (otherwise row order within a nip is the
    order). Courses are taken in order; each one moves the true level by p_complete x gain,
    so a later course meets the level the earlier ones left (a mean-field approximation of
    the expectation). The gap is sum over the position's required competencies of
    max(0, required_level - level). Returns nip, gap_before, gap_after, gap_closed,
    expected_completions; employees without a path are not listed.
    """
    paths = paths.reset_index(drop=True)
    if STEP not in paths.columns:
        paths = paths.assign(**{STEP: paths.groupby(c.NIP, sort=False).cumcount()})
    nips = pd.Index(pd.unique(paths[c.NIP]))
    comps = pd.Index(truth[TRUE_LEVELS][c.COMPETENCY_ID].unique())
    levels = _wide(truth[TRUE_LEVELS], nips, comps, TRUE_LEVEL, fill=np.nan)
    if np.isnan(levels).any():
        raise KeyError("true_levels lacks some (nip, competency) of the paths")
    required = _required_levels(tables, nips, comps)
    gap_before = np.clip(required - levels, 0, None).sum(axis=1)

    scored = _pair_completion(truth, paths[[c.NIP, c.COURSE_ID]]).assign(
        **{STEP: paths[STEP].to_numpy()}
    )
    effects = truth[COURSE_EFFECTS]
    completions = np.zeros(len(nips))
    for step in np.sort(scored[STEP].unique()):
        at = scored[scored[STEP] == step].merge(effects, on=c.COURSE_ID, how="left")
        row = nips.get_indexer(at[c.NIP])
        col = comps.get_indexer(at[c.COMPETENCY_ID])
        gain = course_gain(
            levels[row, col],
            at[TRUE_GAIN].to_numpy(),
            at[c.MIN_LEVEL].to_numpy(),
            at[c.TARGET_LEVEL].to_numpy(),
            at[LEARNING_RATE].to_numpy(),
        )
        np.add.at(levels, (row, col), at[P_COMPLETE].to_numpy() * gain)
        np.clip(levels, c.MIN_LEVEL_VALUE, c.MAX_LEVEL_VALUE, out=levels)
        once = scored[scored[STEP] == step]
        np.add.at(completions, nips.get_indexer(once[c.NIP]), once[P_COMPLETE].to_numpy())
    gap_after = np.clip(required - levels, 0, None).sum(axis=1)
    return closure_frame(nips, gap_before, gap_after, completions)


def load_truth(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read a truth folder written by `demo_data.write_demo` (CSV or Parquet)."""
    folder = Path(folder)
    out: dict[str, pd.DataFrame] = {}
    for name in TRUTH_TABLES:
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.exists():
            out[name] = pd.read_parquet(parquet)
        elif csv.exists():
            ids = {c.NIP: "str", c.COURSE_ID: "str", c.COMPETENCY_ID: "str", c.MODE: "str"}
            out[name] = pd.read_csv(csv, dtype=ids, keep_default_na=False, na_values=[""])
        else:
            raise FileNotFoundError(f"truth table {name} not found in {folder}")
    return out


def _pair_completion(truth: Mapping[str, pd.DataFrame], pairs: pd.DataFrame) -> pd.DataFrame:
    """pairs + learning_rate + p_complete, in the order of `pairs`."""
    traits = truth[PERSON_TRAITS].set_index(c.NIP)
    params = truth[COURSE_PARAMS].set_index(c.COURSE_ID)
    person = traits.index.get_indexer(pairs[c.NIP])
    course = params.index.get_indexer(pairs[c.COURSE_ID])
    if (person < 0).any():
        raise KeyError(f"unknown nip in pairs ({int((person < 0).sum())} rows)")
    if (course < 0).any():
        raise KeyError(f"unknown course_id in pairs ({int((course < 0).sum())} rows)")
    modes = params[c.MODE].to_numpy()[course]
    affinity_cols = [affinity_column(m) for m in c.COURSE_MODES]
    affinity = traits[affinity_cols].to_numpy()[person, _mode_index(modes)]
    base = np.array([MODE_BASE_LOGIT[m] for m in c.COURSE_MODES])[_mode_index(modes)]
    p = completion_probability(
        traits[ENGAGEMENT].to_numpy()[person],
        affinity,
        base,
        params[c.HOURS_JP].to_numpy()[course],
    )
    return pd.DataFrame(
        {
            c.NIP: pairs[c.NIP].to_numpy(),
            c.COURSE_ID: pairs[c.COURSE_ID].to_numpy(),
            LEARNING_RATE: traits[LEARNING_RATE].to_numpy()[person],
            P_COMPLETE: p,
        }
    )


def _mode_index(modes: np.ndarray) -> np.ndarray:
    return pd.Index(c.COURSE_MODES).get_indexer(modes)


def _wide(long: pd.DataFrame, rows: pd.Index, cols: pd.Index, value: str, fill: float):
    out = np.full((len(rows), len(cols)), fill, dtype=float)
    r = rows.get_indexer(long[c.NIP])
    keep = r >= 0
    out[r[keep], cols.get_indexer(long[c.COMPETENCY_ID][keep])] = long[value].to_numpy()[keep]
    return out


def _required_levels(tables: Mapping[str, pd.DataFrame], nips: pd.Index, comps: pd.Index):
    employees = tables[c.EMPLOYEES].set_index(c.NIP)
    position = employees[c.POSITION_ID].reindex(nips)
    if position.isna().any():
        raise KeyError("a nip of the paths is not in the employees table")
    req = tables[c.POSITION_REQUIREMENTS]
    positions = pd.Index(req[c.POSITION_ID].unique())
    by_position = np.zeros((len(positions), len(comps)))
    by_position[
        positions.get_indexer(req[c.POSITION_ID]), comps.get_indexer(req[c.COMPETENCY_ID])
    ] = req[c.REQUIRED_LEVEL].to_numpy()
    pos = positions.get_indexer(position.to_numpy())
    return np.where((pos >= 0)[:, None], by_position[np.maximum(pos, 0)], 0.0)


# --- mentoring ----------------------------------------------------------------------------------
#: Expected gain (levels) of a mentorship with an average mentor, mentee and a long lead.
MENTOR_GAIN_SCALE = 0.5
#: Diminishing returns in the lead: a lead of LEAD_SCALE levels passes on 63% of what a very
#: large lead would; a mentor who is not ahead passes on nothing.
LEAD_SCALE = 0.5
#: Mentor skill is lognormal (mean about 1): a few seniors are excellent mentors, many modest.
SKILL_SIGMA = 1.0


#: How much a senior's reputation as a mentor (how often they are asked) follows their skill.
REPUTATION_WEIGHT = 0.5


def draw_mentor_traits(rng: np.random.Generator, n: int) -> dict:
    """Hidden mentoring traits: skill (what mentees learn), rapport (what they rate, independent
    of skill), and the propensity to be asked to mentor (partly reputation: good mentors are
    asked again, `REPUTATION_WEIGHT`)."""
    z_skill = rng.standard_normal(n)
    spread = np.sqrt(1.0 - REPUTATION_WEIGHT**2)
    return {
        "mentor_quality": np.exp(-0.5 * SKILL_SIGMA**2 + SKILL_SIGMA * z_skill),
        "mentor_rapport": rng.standard_normal(n),
        "mentor_propensity": np.exp(
            0.7 * (REPUTATION_WEIGHT * z_skill + spread * rng.standard_normal(n))
        ),
    }


def mentor_gain(skill: np.ndarray, learning_rate: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Expected level gain of a mentee: skill x learning rate x saturating true lead, and never
    more than the lead itself: a mentee does not rise above the mentor by being mentored (so
    never above level 5 either, however skilled the mentor)."""
    lead = np.maximum(np.asarray(lead, dtype=float), 0.0)
    gain = MENTOR_GAIN_SCALE * skill * learning_rate * (1.0 - np.exp(-lead / LEAD_SCALE))
    return np.minimum(gain, lead)


def mentoring_rating(
    rng: np.random.Generator, skill: np.ndarray, rapport: np.ndarray, engagement: np.ndarray
) -> np.ndarray:
    """Outcome rating 1..5: mostly rapport, the mentee's engagement and noise; skill only a
    little (satisfaction is not learning)."""
    raw = (
        2.9
        + 0.25 * (skill - 1.0)
        + 0.7 * rapport
        + 0.35 * engagement
        + 0.8 * rng.standard_normal(len(skill))
    )
    return np.clip(np.round(raw), 1, 5).astype(np.int64)


def expected_mentor_gain(truth: Mapping[str, pd.DataFrame], pairs: pd.DataFrame) -> np.ndarray:
    """Expected level gain of (mentee_nip, mentor_nip, competency_id) pairs, hidden truth.

    Mirrors `demo_data.mentoring.apply_mentor_gains` (`mentor_gain` at the true levels at the end of
    the history).
    """
    quality = truth[MENTOR_QUALITY].set_index(c.NIP)[QUALITY]
    rate = truth[PERSON_TRAITS].set_index(c.NIP)[LEARNING_RATE]
    level = truth[TRUE_LEVELS].set_index([c.NIP, c.COMPETENCY_ID])[TRUE_LEVEL]
    return mentor_gain(
        quality.reindex(pairs[c.MENTOR_NIP]).to_numpy(),
        rate.reindex(pairs[c.MENTEE_NIP]).to_numpy(),
        true_lead(truth, pairs, level),
    )


def true_lead(
    truth: Mapping[str, pd.DataFrame], pairs: pd.DataFrame, level: pd.Series | None = None
) -> np.ndarray:
    """Mentor's minus mentee's true level in the focus competency of each pair."""
    if level is None:
        level = truth[TRUE_LEVELS].set_index([c.NIP, c.COMPETENCY_ID])[TRUE_LEVEL]

    def true_level(col: str) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([pairs[col], pairs[c.COMPETENCY_ID]])
        return level.reindex(keys).to_numpy()

    return true_level(c.MENTOR_NIP) - true_level(c.MENTEE_NIP)
