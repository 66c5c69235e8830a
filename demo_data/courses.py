"""The drawn course catalogue: courses by mode, provider, hours and level band, their
competencies, prerequisites and hidden true effects (which differ from popularity).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo_data import catalog as cat
from demo_data.reference import COMP_IDS, COMP_INDEX, MODE_INDEX
from features import columns as c

INACTIVE_COURSE_SHARE = 0.10


_MODE_WEIGHT = {"klasikal": 0.22, "e_learning": 0.2, "blended": 0.1, "workshop": 0.12,
                "seminar": 0.14, "coaching": 0.08, "mentoring": 0.07, "magang": 0.07}  # fmt: skip


#: Typical true gain (levels) of a course by mode, and how often people pick the mode:
#: the popular modes (seminar, e-learning) are the weakest, the rare ones the strongest.
_MODE_EFFECT = {"klasikal": 0.32, "e_learning": 0.18, "blended": 0.38, "workshop": 0.28,
                "seminar": 0.1, "coaching": 0.5, "mentoring": 0.45, "magang": 0.55}  # fmt: skip


_MODE_POPULARITY = {"klasikal": 1.0, "e_learning": 1.7, "blended": 0.7, "workshop": 1.0,
                    "seminar": 2.0, "coaching": 0.35, "mentoring": 0.35, "magang": 0.3}  # fmt: skip


_PROVIDER_PRESTIGE = {"LAN RI": 1.6, "BPSDM Provinsi Sumatera Selatan": 1.3,
                      "Kemendagri (BPSDM Kemendagri)": 1.3}  # fmt: skip


_MIN_LEVEL_WEIGHT = (0.35, 0.35, 0.22, 0.08)


def draw_catalog(rng: np.random.Generator, n_courses: int) -> dict:
    """Courses, their competency bands and prerequisites, and the hidden effect of each."""
    comp_weight = np.array(
        [
            1.1 if kind == "teknis" else (0.8 if kind == "sosial_kultural" else 1.0)
            for _, _, kind in cat.COMPETENCIES
        ]
    )
    primary = rng.choice(len(COMP_IDS), size=n_courses, p=comp_weight / comp_weight.sum())
    min_level = 1 + rng.choice(4, size=n_courses, p=_MIN_LEVEL_WEIGHT)
    target = np.minimum(5, min_level + np.where(rng.random(n_courses) < 0.7, 1, 2))
    modes = np.array(c.COURSE_MODES)
    mode_p = np.array([_MODE_WEIGHT[m] for m in c.COURSE_MODES])
    mode = modes[rng.choice(len(modes), size=n_courses, p=mode_p / mode_p.sum())]
    has_second = rng.random(n_courses) < 0.35

    titles, providers, hours = [], [], []
    seen: dict[tuple[str, str], int] = {}
    for i in range(n_courses):  # catalogue entries, not people
        cid = COMP_IDS[primary[i]]
        label, (lo, hi) = cat.MODE_LABEL[mode[i]]
        hours.append(int(rng.integers(lo // 2, hi // 2 + 1)) * 2)
        themes = cat.COURSE_THEMES[cid]
        tier = cat.TIER_LABEL[min(min_level[i], 4) - 1]
        titles.append(f"{label} {themes[int(rng.integers(len(themes)))]} {tier}")
        options = cat.PROVIDERS_BY_COMPETENCY["M" if cid.startswith("M") else cid]
        if mode[i] in ("coaching", "mentoring") and rng.random() < 0.7:
            providers.append("BKPSDM Kota Palembang")
        elif rng.random() < 0.1:
            providers.append(cat.PROVIDERS[int(rng.integers(len(cat.PROVIDERS)))])
        else:
            w = 1.0 / np.arange(1, len(options) + 1)
            providers.append(options[int(rng.choice(len(options), p=w / w.sum()))])
        key = (titles[-1], providers[-1])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            titles[-1] += f" Angkatan {seen[key]}"

    course_ids = np.array([f"PLT-{i + 1:04d}" for i in range(n_courses)], dtype=object)
    active = np.ones(n_courses, dtype=bool)
    active[
        rng.choice(n_courses, size=int(round(INACTIVE_COURSE_SHARE * n_courses)), replace=False)
    ] = False

    # hidden effect and popularity, drawn independently so that popular != effective
    quality = np.array([_MODE_EFFECT[m] for m in mode]) * rng.lognormal(-0.1, 0.45, n_courses)
    popularity = (
        np.array([_MODE_POPULARITY[m] for m in mode])
        * np.array([_PROVIDER_PRESTIGE.get(p, 1.0) for p in providers])
        * rng.lognormal(0.0, 0.7, n_courses)
    )
    special = rng.permutation(n_courses)
    n_special = max(1, int(round(0.07 * n_courses)))
    hyped, gems = special[:n_special], special[n_special : 2 * n_special]
    popularity[hyped] *= 4.0
    quality[hyped] *= 0.25
    popularity[gems] *= 0.25
    quality[gems] *= 1.8
    quality = np.clip(quality * np.where(target - min_level >= 2, 1.2, 1.0), 0.02, 1.2)

    second = np.array([COMP_INDEX[cat.RELATED_COMPETENCY[COMP_IDS[p]]] for p in primary])
    comp = np.stack([primary, np.where(has_second, second, -1)], axis=1)
    band_min = np.stack([min_level, np.maximum(1, min_level - 1)], axis=1)
    band_target = np.stack([target, np.maximum(np.maximum(1, min_level - 1) + 1, target - 1)], 1)
    gain = np.stack([quality, quality * rng.uniform(0.3, 0.6, n_courses)], axis=1)
    gain[comp < 0] = 0.0

    prereq_course: list[int] = []
    prereq_of: list[int] = []
    for j in np.flatnonzero((min_level >= 2) & (rng.random(n_courses) < 0.45)):
        ok = (primary == primary[j]) & (min_level < min_level[j]) & (target >= min_level[j])
        ok &= active | ~active[j]
        candidates = np.flatnonzero(ok)
        if len(candidates):
            prereq_course.append(int(j))
            prereq_of.append(int(rng.choice(candidates)))

    rows, slots = np.nonzero(comp >= 0)
    comp_ids = np.array(COMP_IDS, dtype=object)
    prereq = np.full(n_courses, -1, dtype=np.int64)
    prereq[prereq_course] = prereq_of
    return {
        "ids": course_ids,
        "prereq": prereq,
        "mode": np.array([MODE_INDEX[m] for m in mode]),
        "hours": np.array(hours, dtype=np.int64),
        "active": active,
        "popularity": popularity,
        "comp": comp,
        "band_min": band_min,
        "band_target": band_target,
        "gain": gain,
        "courses": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids, dtype="str"),
                c.TITLE: pd.Series(titles, dtype="str"),
                c.PROVIDER: pd.Series(providers, dtype="str"),
                c.MODE: pd.Series(mode, dtype="str"),
                c.HOURS_JP: np.array(hours, dtype=np.int64),
                c.ACTIVE: active,
            }
        ),
        "course_competencies": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids[rows], dtype="str"),
                c.COMPETENCY_ID: pd.Series(comp_ids[comp[rows, slots]], dtype="str"),
                c.MIN_LEVEL: band_min[rows, slots].astype(np.int64),
                c.TARGET_LEVEL: band_target[rows, slots].astype(np.int64),
            }
        ),
        "effects_index": (rows, slots),
        "prerequisites": pd.DataFrame(
            {
                c.COURSE_ID: pd.Series(course_ids[prereq_course], dtype="str"),
                c.PREREQUISITE_ID: pd.Series(course_ids[prereq_of], dtype="str"),
            }
        ),
    }
