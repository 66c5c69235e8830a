"""The quarter-by-quarter history: enrollments, assessments, mentorships and yearly reviews
drawn from latent levels that grow with completed courses, mentoring and time on the job.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from demo_data import catalog as cat
from demo_data import truth as dt
from demo_data.arrays import (
    NAT,
    choose_rows,
    cumulative_weights,
    day_number,
    first_occurrence,
    month_after,
    sorted_contains,
    uniform_days,
)
from demo_data.learning import (
    ASSESS_RATE,
    DEFAULT_METHOD_WEIGHT,
    ENROLL_RATE,
    METHOD_WEIGHT,
    ON_THE_JOB_GAIN,
    PREREQ_WAIVED,
    apply_course_gains,
    course_weights,
    enroll_outcomes,
    method_coverage,
)
from demo_data.mentoring import (
    MENTORING_BASELINE_SHARE,
    MENTORING_POST_SHARE,
    apply_mentor_gains,
    draw_mentorships,
    mentoring_assessments,
)
from demo_data.reference import COMP_IDS, COMP_INDEX, METHODS
from features import columns as c


def simulate_history(rng, people, traits, catalog, req_by_position, years, until, report):
    """Quarter by quarter: assessments, enrollments, mentoring, SKP; latent levels evolve."""
    n = people["n"]
    n_comp = len(COMP_IDS)
    n_courses = len(catalog["ids"])
    required = req_by_position[people["position"]]
    is_required = required > 0
    ability = traits["ability"]
    engagement = traits["engagement"]
    learning_rate = traits["learning_rate"]

    levels = np.where(
        is_required,
        required
        - 0.75
        + 0.25 * ability[:, None]
        + np.clip(0.03 * (people["service"][:, None] - 10), -0.4, 0.3)
        + 0.5 * rng.standard_normal((n, n_comp)),
        1.2 + 0.2 * ability[:, None] + 0.4 * rng.standard_normal((n, n_comp)),
    )
    np.clip(levels, 1.0, 5.0, out=levels)

    until_day = day_number(until)
    first_month = np.datetime64(until, "M") + 1 - 12 * years
    n_quarters = 4 * years
    q_lo = (first_month + 3 * np.arange(n_quarters)).astype("datetime64[D]").astype(np.int64)
    q_hi = np.minimum(np.r_[q_lo[1:], month_after(first_month, 3 * n_quarters)] - 1, until_day)

    weights_all, weights_late = course_weights(catalog, req_by_position)
    method_cover = method_coverage()
    cat_names = list(METHOD_WEIGHT) + ["other"]
    method_cum = cumulative_weights(
        np.array([METHOD_WEIGHT[k] for k in METHOD_WEIGHT] + [DEFAULT_METHOD_WEIGHT])
    )
    method_row = np.array(
        [
            cat_names.index(p.category) if p.category in METHOD_WEIGHT else len(cat_names) - 1
            for p in cat.POSITIONS
        ]
    )[people["position"]]
    mode_base = np.array([dt.MODE_BASE_LOGIT[m] for m in c.COURSE_MODES])

    out: dict[str, list] = {k: [] for k in ("assess", "enroll", "mentor", "review")}
    taken = np.empty(0, dtype=np.int64)  # person * n_courses + course, sorted
    completed = np.empty(0, dtype=np.int64)
    pending_course = _empty_pending(("person", "course", "due", "noise"))
    pending_mentor = _empty_pending(("mentor", "mentee", "focus", "due", "noise"))
    mrng = traits["mentoring_rng"]  # mentoring draws its own stream: courses never shift
    pending_post = _empty_pending(("person", "focus", "due", "day"))

    for q in range(n_quarters):
        lo, hi = q_lo[q], q_hi[q]
        present = (people["tmt"] <= hi) & (people["left_day"] > lo)

        # assessments: noisy measurements of the latent level at the start of the quarter
        who = np.flatnonzero(present & (rng.random(n) < ASSESS_RATE))
        day = np.maximum(uniform_days(rng, lo, hi, len(who)), people["tmt"][who])
        keep = day < people["left_day"][who]
        who, day = who[keep], day[keep]
        method = choose_rows(rng, method_cum, method_row[who])
        ev, comp = np.nonzero(is_required[who] & method_cover[method])
        person = who[ev]
        m = method[ev]
        bias = np.array([v[1] for v in METHODS.values()])[m]
        noise = np.array([v[2] for v in METHODS.values()])[m]
        step = np.array([v[3] for v in METHODS.values()])[m]
        measured = levels[person, comp] + bias + noise * rng.standard_normal(len(person))
        measured = np.clip(np.round(measured / step) * step, 1.0, 5.0)
        out["assess"].append((person, comp, np.round(measured, 2), day[ev], m))

        # enrollments
        counts = rng.poisson(ENROLL_RATE * np.exp(0.25 * engagement)) * present
        person = np.repeat(np.arange(n), counts)
        weights = weights_late if q >= 0.6 * n_quarters else weights_all
        course = choose_rows(rng, weights, people["position"][person])
        # nobody takes the same course twice, and most wait for the prerequisite
        key = person.astype(np.int64) * n_courses + course
        fresh = first_occurrence(key) & ~sorted_contains(taken, key)
        prereq = catalog["prereq"][course]
        missing = (prereq >= 0) & ~sorted_contains(completed, person * n_courses + prereq)
        fresh &= ~missing | (rng.random(len(key)) < PREREQ_WAIVED)
        person, course, key = person[fresh], course[fresh], key[fresh]
        taken = np.sort(np.concatenate([taken, np.sort(key)]), kind="stable")  # merges runs
        start = np.maximum(uniform_days(rng, lo, hi, len(person)), people["tmt"][person])
        keep = start < people["left_day"][person]
        person, course, start = person[keep], course[keep], start[keep]
        out["enroll"].append(
            enroll_outcomes(
                rng,
                person,
                course,
                start,
                catalog,
                traits,
                mode_base,
                levels,
                learning_rate,
                people["left_day"],
                until_day,
            )
        )
        done = out["enroll"][-1]
        finished = done["status"] == 0
        completed = np.sort(
            np.concatenate(
                [
                    completed,
                    np.sort(done["person"][finished] * n_courses + done["course"][finished]),
                ]
            ),
            kind="stable",
        )
        pending_course = _append_pending(
            pending_course,
            person=done["person"][finished],
            course=done["course"][finished],
            due=np.searchsorted(q_hi, done["end"][finished]),
            noise=rng.lognormal(-0.045, 0.3, int(finished.sum())),
        )

        # mentoring: seniors of the same kecamatan guide juniors on their largest gap
        post_due = pending_post["due"] == q
        if post_due.any():
            out["assess"].append(
                mentoring_assessments(
                    mrng,
                    levels,
                    pending_post["person"][post_due],
                    pending_post["focus"][post_due],
                    pending_post["day"][post_due],
                )
            )
            pending_post = {k: v[~post_due] for k, v in pending_post.items()}
        mentorships = draw_mentorships(
            mrng, people, traits, levels, required, present, lo, hi, until_day
        )
        if mentorships is not None:
            out["mentor"].append(mentorships)
            base = mrng.random(len(mentorships["mentee"])) < MENTORING_BASELINE_SHARE
            out["assess"].append(
                mentoring_assessments(
                    mrng,
                    levels,
                    mentorships["mentee"][base],
                    mentorships["focus"][base],
                    mentorships["start"][base],
                )
            )
            ended = mentorships["end"] != NAT
            due = np.searchsorted(q_hi, mentorships["end"][ended])
            pending_mentor = _append_pending(
                pending_mentor,
                mentor=mentorships["mentor"][ended],
                mentee=mentorships["mentee"][ended],
                focus=mentorships["focus"][ended],
                due=due,
                noise=mrng.lognormal(-0.045, 0.3, int(ended.sum())),
            )
            # the post-mentorship assessment comes a few weeks after the end (its gain is in)
            post_day = mentorships["end"][ended] + mrng.integers(14, 60, int(ended.sum()))
            post = (
                (mrng.random(int(ended.sum())) < MENTORING_POST_SHARE)
                & (post_day <= until_day)
                & (post_day < people["left_day"][mentorships["mentee"][ended]])
            )
            pending_post = _append_pending(
                pending_post,
                person=mentorships["mentee"][ended][post],
                focus=mentorships["focus"][ended][post],
                due=np.maximum(np.searchsorted(q_hi, post_day[post]), due[post] + 1),
                day=post_day[post],
            )

        # quarter end: gains of what finished, on-the-job drift, SKP at year end
        pending_course = apply_course_gains(levels, pending_course, q, catalog, learning_rate)
        pending_mentor = apply_mentor_gains(levels, pending_mentor, q, traits, learning_rate)
        levels += ON_THE_JOB_GAIN * (is_required & present[:, None])
        np.clip(levels, 1.0, 5.0, out=levels)
        year_end = np.datetime64(int(hi), "D").astype(object)
        if year_end.month == 12 and year_end.day == 31:
            out["review"].append(
                _draw_reviews(rng, people, traits, levels, required, year_end.year, hi)
            )
        report("history", 0.2 + 0.6 * (q + 1) / n_quarters)

    return {"levels": levels, **{k: v for k, v in out.items()}}


def _draw_reviews(rng, people, traits, levels, required, year, year_end_day):
    """Yearly SKP: result from competence and ability, behaviour from engagement and M1."""
    eligible = (people["tmt"] <= day_number(date(year, 7, 1))) & (people["left_day"] > year_end_day)
    who = np.flatnonzero(eligible)
    req = required[who]
    gap = np.where(req > 0, np.clip(levels[who] - req, -2, 1), 0.0).sum(1) / np.maximum(
        (req > 0).sum(1), 1
    )
    m1 = COMP_INDEX["M1"]
    result = 0.6 * gap + 0.6 * traits["ability"][who] + 0.6 * rng.standard_normal(len(who))
    behavior = (
        0.6 * traits["engagement"][who]
        + 0.5 * (levels[who, m1] - req[:, m1])
        + 0.6 * rng.standard_normal(len(who))
    )

    def grade(x):  # 0 di_atas, 1 sesuai, 2 di_bawah (order of EXPECTATION_VALUES)
        return np.where(x > 0.85, 0, np.where(x < -1.1, 2, 1))

    return who, np.full(len(who), year, dtype=np.int64), grade(result), grade(behavior)


def _empty_pending(keys) -> dict:
    return {k: np.empty(0, dtype=float if k == "noise" else np.int64) for k in keys}


def _append_pending(pending: dict, **new) -> dict:
    return {
        k: np.concatenate([pending[k], np.asarray(new[k], dtype=pending[k].dtype)]) for k in pending
    }
