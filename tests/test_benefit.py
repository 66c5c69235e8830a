"""The observed-benefit estimator on hand-made outcomes with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import columns as c
from features.gap_closure import GAP_CLOSED
from model.benefit import ObservedBenefit, band_position
from model.metrics import bootstrap_mean_ci


def _changes(rows):
    """rows: (nip, course, competency, min, target, level_before, change)."""
    return pd.DataFrame(
        rows,
        columns=[
            c.NIP, c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL,
            "level_before", "change",
        ],
    )  # fmt: skip


def _enrollments(rows):
    return pd.DataFrame(rows, columns=[c.NIP, c.COURSE_ID, "completed"])


def test_band_position():
    levels = np.array([1.0, 2.2, 2.6, 3.0, 3.9, 4.0, np.nan])
    got = band_position(levels, np.full(7, 3.0), np.full(7, 4.0))
    assert got.tolist() == [0, 1, 2, 3, 3, 4, 0]


def test_drift_of_untrained_levels_is_subtracted():
    # Untrained people starting at 2.0 rise by 0.2 anyway (regression to the mean).
    untrained = pd.DataFrame({"level_before": [2.0] * 4, "change": [0.2] * 4})
    changes = _changes([("1", "A", "PP", 2, 3, 2.0, 0.7), ("2", "A", "PP", 2, 3, 2.0, 0.7)])
    enr = _enrollments([("1", "A", 1), ("2", "A", 1)])
    est = ObservedBenefit(prior_strength=0.0).fit(changes, enr, untrained)
    assert est.gain(["A"], ["PP"], [2.0], [2], [3])[0] == pytest.approx(0.5)
    plain = ObservedBenefit(prior_strength=0.0).fit(changes, enr)
    assert plain.gain(["A"], ["PP"], [2.0], [2], [3])[0] == pytest.approx(0.7)


def test_gain_depends_on_where_the_participant_stands_against_the_band():
    changes = _changes(
        [("1", "A", "PP", 2, 4, 2.5, 0.8), ("2", "A", "PP", 2, 4, 2.5, 0.8)]
        + [("3", "A", "PP", 2, 4, 4.0, 0.0), ("4", "A", "PP", 2, 4, 4.2, 0.0)]
    )
    est = ObservedBenefit(prior_strength=0.0).fit(changes, _enrollments([("1", "A", 1)]))
    inside, above = est.gain(["A", "A"], ["PP", "PP"], [2.5, 4.0], [2, 2], [4, 4])
    assert inside == pytest.approx(0.8) and above == pytest.approx(0.0)
    # An unknown course gets the mean of its band position over all courses.
    assert est.gain(["Z"], ["PP"], [3.0], [2], [4])[0] == pytest.approx(0.8)


def test_post_tests_set_the_prior_of_a_course_with_few_level_changes():
    # A and B are observed; B's post-tests are much better and B changed levels more. C has
    # no level change yet, only post-tests like B's: it is expected to work like B.
    changes = _changes(
        [(str(i), "A", "PP", 2, 3, 2.0, 0.1) for i in range(6)]
        + [(str(i), "B", "PP", 2, 3, 2.0, 0.7) for i in range(6)]
        + [(str(i), "D", "PP", 2, 3, 2.0, 0.4) for i in range(6)]
    )
    post = pd.DataFrame({c.COURSE_ID: ["A", "B", "C", "D"], "mean_score": [50, 90, 90, 70]})
    enr = _enrollments([("1", "A", 1)])
    est = ObservedBenefit(prior_strength=3.0).fit(changes, enr, None, post)
    a, b, new = est.gain(["A", "B", "C"], ["PP"] * 3, [2.0] * 3, [2] * 3, [3] * 3)
    assert a < new and new == pytest.approx(b, abs=0.1)
    flat = ObservedBenefit(prior_strength=3.0).fit(changes, enr)
    assert flat.gain(["C"], ["PP"], [2.0], [2], [3])[0] == pytest.approx(0.4)


def test_unassessed_levels_count_as_their_peers_levels():
    from model.benefit import expected_unassessed

    levels = pd.DataFrame(
        {c.NIP: list("abcd"), c.COMPETENCY_ID: ["PP"] * 4,
         "current_level": [2.0, 3.0, np.nan, np.nan], c.REQUIRED_LEVEL: [3, 3, 3, 4]}
    )  # fmt: skip
    assert expected_unassessed(levels).tolist() == [2.0, 3.0, 2.5, 2.5]


def test_completion_separates_people_who_finish_from_those_who_drop():
    rows = [("good", k, 1) for k in "ABCDEF"] + [("bad", k, 0) for k in "ABCDEF"]
    rows += [("x", k, i % 2) for i, k in enumerate("ABCDEF")]
    est = ObservedBenefit().fit(_changes([]), _enrollments(rows))
    good, bad, new = est.p_complete(["good", "bad", "new"], ["A", "A", "A"])
    assert good > new > bad


def test_gap_closure_walks_the_path_and_stops_at_the_requirement():
    changes = _changes([(str(i), "A", "PP", 1, 3, 1.5, 1.0) for i in range(4)])
    enr = _enrollments([(str(i), "A", 1) for i in range(4)])
    est = ObservedBenefit(prior_strength=0.0).fit(changes, enr)
    bands = pd.DataFrame(
        {c.COURSE_ID: ["A", "B"], c.COMPETENCY_ID: ["PP", "PP"], c.MIN_LEVEL: [1, 1],
         c.TARGET_LEVEL: [3, 3]}
    )  # fmt: skip
    levels = pd.DataFrame(
        {c.NIP: ["e1", "e2"], c.COMPETENCY_ID: ["PP", "PP"], "current_level": [1.5, 2.8],
         c.REQUIRED_LEVEL: [3.0, 3.0]}
    )  # fmt: skip
    paths = pd.DataFrame({c.NIP: ["e1", "e2"], c.COURSE_ID: ["A", "A"], "order": [1, 1]})
    per = est.gap_closure(paths, levels, bands).set_index(c.NIP)
    # Everyone completed A: p ~ 1 (all-complete history gives the smoothed base rate).
    p = float(est.p_complete(["e1"], ["A"])[0])
    assert per.at["e1", GAP_CLOSED] == pytest.approx(p * 1.0)
    assert per.at["e2", GAP_CLOSED] == pytest.approx(0.2)  # capped by the 0.2 gap
    none = est.gap_closure(paths.iloc[0:0], levels, bands)
    assert (none[GAP_CLOSED] == 0).all() and len(none) == 2


def test_gap_is_judged_at_the_posterior_level_when_the_view_has_one():
    """A stale low reading (1.5) of someone whose readings put them at 2.8 by now: the judge
    credits a course with what is left of the gap at 2.8, not with the gap the reading shows."""
    changes = _changes([(str(i), "A", "PP", 1, 3, 1.5, 1.0) for i in range(4)])
    est = ObservedBenefit(prior_strength=0.0).fit(
        changes, _enrollments([(str(i), "A", 1) for i in range(4)])
    )
    bands = pd.DataFrame(
        {c.COURSE_ID: ["A"], c.COMPETENCY_ID: ["PP"], c.MIN_LEVEL: [1], c.TARGET_LEVEL: [3]}
    )
    levels = pd.DataFrame(
        {c.NIP: ["e1", "e2"], c.COMPETENCY_ID: ["PP", "PP"], "current_level": [1.5, 1.5],
         c.REQUIRED_LEVEL: [3.0, 3.0], "level_mean": [2.8, np.nan]}
    )  # fmt: skip
    paths = pd.DataFrame({c.NIP: ["e1", "e2"], c.COURSE_ID: ["A", "A"], "order": [1, 1]})
    per = est.gap_closure(paths, levels, bands).set_index(c.NIP)
    p = float(est.p_complete(["e1"], ["A"])[0])
    assert per.at["e1", "gap_before"] == pytest.approx(0.2)
    assert per.at["e1", GAP_CLOSED] == pytest.approx(min(p * 1.0, 0.2))
    # without a posterior the measured level (no drift fitted here) decides
    assert per.at["e2", "gap_before"] == pytest.approx(1.5)
    assert per.at["e2", GAP_CLOSED] == pytest.approx(p * 1.0)


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_people():
    rng = np.random.default_rng(0)
    small = rng.normal(1.0, 1.0, 100)
    large = rng.normal(1.0, 1.0, 10_000)
    m, lo, hi = bootstrap_mean_ci(small, seed=1)
    assert lo < m < hi and m == pytest.approx(small.mean())
    _, lo2, hi2 = bootstrap_mean_ci(large, seed=1)
    assert hi2 - lo2 < (hi - lo) / 5
    assert all(np.isnan(v) for v in bootstrap_mean_ci([]))
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0], level=1.5)
