"""Mentoring: who mentors whom each quarter, the gain a mentee draws from the mentor's hidden
skill and lead, and the baseline / post assessments a mentoring programme runs.
"""

from __future__ import annotations

import numpy as np

from demo_data import catalog as cat
from demo_data import truth as dt
from demo_data.arrays import NAT, uniform_days
from demo_data.reference import METHODS

MENTEE_RATE = 0.2  # new mentees per person per quarter


MENTOR_NEW_PER_QUARTER = 4


#: Share of mentorships with a baseline assessment of the focus at the start, and with a
#: post-mentorship assessment after the end (the evaluation a mentoring programme runs).
MENTORING_BASELINE_SHARE = 0.9


MENTORING_POST_SHARE = 0.9


def draw_mentorships(rng, people, traits, levels, required, present, lo, hi, until_day):
    n = people["n"]
    mentee = np.flatnonzero(present & (people["service"] > 0.5) & (rng.random(n) < MENTEE_RATE))
    pool = np.flatnonzero(present & (people["service"] >= 1) & (people["left_day"] > hi + 200))
    if len(mentee) == 0 or len(pool) == 0:
        return None
    gap = np.where(required[mentee] > 0, required[mentee] - levels[mentee], -9.0)
    focus = np.argmax(gap + 0.25 * rng.standard_normal(gap.shape), axis=1)
    pool = pool[np.argsort(people["block"][pool], kind="stable")]
    pool_block = people["block"][pool]
    block = people["block"][mentee]
    first = np.searchsorted(pool_block, block, "left")
    size = np.searchsorted(pool_block, block, "right") - first
    # some seniors are asked again and again (propensity), independently of their skill
    cum = np.cumsum(traits["mentor_propensity"][pool])
    before = np.r_[0.0, cum][first]
    total = np.r_[0.0, cum][first + size] - before
    mentor = np.full(len(mentee), -1, dtype=np.int64)
    for _ in range(10):  # a few redraws for mentees whose candidate did not fit
        todo = np.flatnonzero((mentor < 0) & (size > 0))
        if len(todo) == 0:
            break
        draw = before[todo] + rng.random(len(todo)) * total[todo]
        at = np.clip(np.searchsorted(cum, draw, "right"), first[todo], first[todo] + size[todo] - 1)
        cand = pool[at]
        me = mentee[todo]
        fits = (
            (cand != me)
            & (people["gol_rank"][cand] > people["gol_rank"][me])
            & (levels[cand, focus[todo]] >= levels[me, focus[todo]] + 0.3)
        )
        mentor[todo[fits]] = cand[fits]
    ok = mentor >= 0
    mentor, mentee, focus = mentor[ok], mentee[ok], focus[ok]
    order = np.argsort(mentor, kind="stable")
    mentor, mentee, focus = mentor[order], mentee[order], focus[order]
    rank = np.arange(len(mentor)) - np.searchsorted(mentor, mentor, "left")
    keep = rank < MENTOR_NEW_PER_QUARTER
    mentor, mentee, focus = mentor[keep], mentee[keep], focus[keep]
    if len(mentor) == 0:
        return None
    k = len(mentor)
    start = np.maximum(uniform_days(rng, lo, hi, k), people["tmt"][mentee])
    end = start + rng.integers(90, 181, k)
    last = np.minimum(people["left_day"][mentor], people["left_day"][mentee]) - 1
    end = np.minimum(end, last)
    valid = end > start
    outcome = dt.mentoring_rating(
        rng, traits["mentor_quality"][mentor], traits["mentor_rapport"][mentor],
        traits["engagement"][mentee],
    )  # fmt: skip
    ongoing = end > until_day  # still running at the end of the history
    return {
        "mentor": mentor[valid],
        "mentee": mentee[valid],
        "focus": focus[valid],
        "start": start[valid],
        "end": np.where(ongoing, NAT, end)[valid],
        "outcome": np.where(ongoing, -1, outcome)[valid],
    }


def apply_mentor_gains(levels, pending, q, traits, learning_rate):
    due = pending["due"] == q
    mentor, mentee, focus = pending["mentor"][due], pending["mentee"][due], pending["focus"][due]
    gain = dt.mentor_gain(
        traits["mentor_quality"][mentor],
        learning_rate[mentee],
        levels[mentor, focus] - levels[mentee, focus],
    )
    np.add.at(levels, (mentee, focus), gain * pending["noise"][due])
    return {key: value[~due] for key, value in pending.items()}


def mentoring_assessments(rng, levels, person, focus, day):
    """Assessments of mentees in their focus (baseline or post-mentorship), as `out["assess"]`.

    Technical competencies are tested (uji kompetensi), the others by an assessment centre or
    a 360-degree review; a quarter are self-assessments (mandiri), biased upward.
    """
    technical = np.array([kind == "teknis" for _, _, kind in cat.COMPETENCIES])[focus]
    u = rng.random(len(person))
    method = np.where(u < 0.7, 2, np.where(technical, 1, 0))
    method = np.where(rng.random(len(person)) < 0.1, 3, method)
    bias = np.array([v[1] for v in METHODS.values()])[method]
    noise = np.array([v[2] for v in METHODS.values()])[method]
    step = np.array([v[3] for v in METHODS.values()])[method]
    measured = levels[person, focus] + bias + noise * rng.standard_normal(len(person))
    measured = np.clip(np.round(measured / step) * step, 1.0, 5.0)
    return (person, focus, np.round(measured, 2), np.asarray(day, dtype=np.int64), method)
