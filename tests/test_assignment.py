"""Mentor eligibility rules and the exact capacity-constrained assignment.

The assignment is cross-checked against brute force (every feasible assignment enumerated) on
many small random problems, with each solver path forced; eligibility against a plain double
loop over all (mentee, mentor) pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import columns as c
from model.assignment import BENEFIT, assign, assignment_value, greedy_assign
from model.mentor_eligibility import (
    CANDIDATE_COLUMNS,
    MENTOR_LEVEL,
    SAME_UNIT,
    eligible_pairs,
    employee_profile,
    subunit_scope,
    top_n_per_mentee,
)

E, M = c.MENTEE_NIP, c.MENTOR_NIP


def candidates(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            E: pd.array([r[0] for r in rows], dtype="str"),
            M: pd.array([r[1] for r in rows], dtype="str"),
            BENEFIT: np.array([r[2] for r in rows], dtype="float64"),
        }
    )


def brute_force(cand: pd.DataFrame, cap: dict[str, int]) -> float:
    """Best total benefit over every feasible assignment (each mentee: no mentor or one)."""
    options: dict[str, list[tuple[str, float]]] = {}
    for mentee, mentor, benefit in cand[[E, M, BENEFIT]].itertuples(index=False):
        options.setdefault(mentee, []).append((mentor, benefit))
    mentees = sorted(options)
    best = 0.0

    def walk(i: int, load: dict[str, int], value: float) -> None:
        nonlocal best
        if i == len(mentees):
            best = max(best, value)
            return
        walk(i + 1, load, value)
        for mentor, benefit in options[mentees[i]]:
            if load.get(mentor, 0) < cap.get(mentor, 3):
                load[mentor] = load.get(mentor, 0) + 1
                walk(i + 1, load, value + benefit)
                load[mentor] -= 1

    walk(0, {}, 0.0)
    return best


def random_problem(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    n_mentees, n_mentors = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    density = rng.uniform(0.2, 1.0)
    rows = [
        (f"e{i}", f"m{j}", float(np.round(rng.normal(1.0, 1.0), 1)))  # rounding makes ties
        for i in range(n_mentees)
        for j in range(n_mentors)
        if rng.random() < density
    ]
    cap = {f"m{j}": int(rng.integers(1, 4)) for j in range(n_mentors)}
    return candidates(rows), cap


def assert_feasible(result: pd.DataFrame, cand: pd.DataFrame, cap: dict[str, int]) -> None:
    assert not result[E].duplicated().any(), "a mentee got two mentors"
    load = result[M].value_counts()
    for mentor, n in load.items():
        assert n <= cap.get(mentor, 3), f"{mentor} over capacity"
    pairs = set(zip(cand[E], cand[M], strict=True))
    assert set(zip(result[E], result[M], strict=True)) <= pairs, "a pair that is no candidate"
    assert (result[BENEFIT] > 0).all(), "a non-positive pair was chosen"


# --- assignment ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "dense", "sparse"])
def test_exact_matches_brute_force_and_beats_greedy(method):
    rng = np.random.default_rng(20240601)
    for _ in range(100):
        cand, cap = random_problem(rng)
        result = assign(cand, cap, method=method)
        assert_feasible(result, cand, cap)
        assert assignment_value(result) == pytest.approx(brute_force(cand, cap), abs=1e-9)
        greedy = greedy_assign(cand, cap)
        assert_feasible(greedy, cand, cap)
        assert assignment_value(result) >= assignment_value(greedy) - 1e-9


def test_solvers_agree_on_medium_problems():
    rng = np.random.default_rng(7)
    for _ in range(5):
        rows = [
            (f"e{i:02d}", f"m{j:02d}", float(rng.normal(1.0, 1.0)))
            for i in range(60)
            for j in range(20)
            if rng.random() < 0.2
        ]
        cand = candidates(rows)
        cap = {f"m{j:02d}": int(rng.integers(0, 4)) for j in range(20)}
        values = {m: assignment_value(assign(cand, cap, method=m)) for m in ("dense", "sparse")}
        assert values["dense"] == pytest.approx(values["sparse"], rel=1e-12)
        assert_feasible(assign(cand, cap), cand, cap)


def test_greedy_can_be_strictly_worse():
    # a's best mentor is x, but b can only use x: exact gives x to b and y to a.
    cand = candidates([("a", "x", 3.0), ("a", "y", 2.0), ("b", "x", 2.5)])
    exact, greedy = assign(cand, 1), greedy_assign(cand, 1)
    assert list(zip(exact[E], exact[M], strict=True)) == [("a", "y"), ("b", "x")]
    assert assignment_value(exact) == 4.5
    assert assignment_value(greedy) == 3.0


def test_capacity_limits_and_per_mentor_override():
    cand = candidates([(f"e{i}", "x", 1.0 + i) for i in range(5)])
    assert len(assign(cand, 3)) == 3
    assert set(assign(cand, 3)[E]) == {"e2", "e3", "e4"}  # the three largest benefits
    assert len(assign(cand, {"x": 1})) == 1
    assert len(assign(cand, {"other": 1}, default_capacity=2)) == 2
    assert assign(cand, {"x": 0}).empty
    assert assign(cand, pd.Series({"x": 4})).shape[0] == 4
    with pytest.raises(ValueError, match="negative"):
        assign(cand, {"x": -1})


def test_non_positive_benefit_never_chosen():
    cand = candidates([("a", "x", -1.0), ("b", "x", 0.0), ("c", "y", 0.5)])
    result = assign(cand, 3)
    assert list(result[E]) == ["c"]
    assert greedy_assign(cand, 3)[E].tolist() == ["c"]
    assert assign(candidates([("a", "x", -2.0)])).empty


def test_ties_are_resolved_the_same_whatever_the_row_order():
    rng = np.random.default_rng(3)
    rows = [(f"e{i}", f"m{j}", 1.0) for i in range(8) for j in range(4) if rng.random() < 0.7]
    cand = candidates(rows).assign(extra=np.arange(len(rows)))
    reference = assign(cand, 2)
    for seed in range(5):
        shuffled = cand.sample(frac=1.0, random_state=seed)
        for method in ("auto", "dense", "sparse"):
            pd.testing.assert_frame_equal(
                assign(shuffled, 2, method=method)[[E, M, "extra"]],
                assign(cand, 2, method=method)[[E, M, "extra"]],
            )
        pd.testing.assert_frame_equal(greedy_assign(shuffled, 2), greedy_assign(cand, 2))
    # Extra columns are carried through, rows sorted by mentee then mentor.
    assert list(reference.columns) == [E, M, BENEFIT, "extra"]
    assert reference[E].is_monotonic_increasing


def test_empty_inputs():
    empty = candidates([])
    for solve in (assign, greedy_assign):
        result = solve(empty, 3)
        assert result.empty and list(result.columns) == [E, M, BENEFIT]
    assert assignment_value(assign(empty)) == 0.0


def test_bad_candidates_are_refused():
    with pytest.raises(ValueError, match="more than once"):
        assign(candidates([("a", "x", 1.0), ("a", "x", 2.0)]))
    with pytest.raises(ValueError, match="missing values"):
        assign(candidates([("a", "x", np.nan)]))
    with pytest.raises(ValueError, match="missing columns"):
        assign(candidates([("a", "x", 1.0)]).drop(columns=BENEFIT))


def test_custom_column_names():
    cand = pd.DataFrame({"who": ["a", "b"], "by": ["x", "x"], "gain": [1.0, 2.0]})
    result = assign(cand, 1, col_mentee="who", col_mentor="by", col_benefit="gain")
    assert result["who"].tolist() == ["b"]
    assert assignment_value(result, col_benefit="gain") == 2.0


def test_unconstrained_components_take_each_mentees_best():
    # Many small components, none over-subscribed: every mentee gets its best mentor.
    rows = [(f"e{i}", f"m{i}a", 1.0) for i in range(50)]
    rows += [(f"e{i}", f"m{i}b", 2.0) for i in range(50)]
    result = assign(candidates(rows), 3)
    assert len(result) == 50 and (result[M].str.endswith("b")).all()


# --- eligibility --------------------------------------------------------------------------


def ts(year: int) -> pd.Timestamp:
    return pd.Timestamp(f"{year}-01-01")


def mentee_frame(**overrides) -> pd.DataFrame:
    row = {
        c.NIP: "e1",
        c.COMPETENCY_ID: "K1",
        c.LEVEL: 2.0,
        c.REQUIRED_LEVEL: 3,
        c.UNIT_ID: "U1",
        c.GRADE: 7,
        c.TMT_CPNS: ts(2015),
        c.SUPERVISOR_NIP: "boss",
    }
    row.update(overrides)
    return pd.DataFrame([row])


def mentor_frame(rows: list[dict]) -> pd.DataFrame:
    base = {c.NIP: "m", c.ACTIVE: True, c.UNIT_ID: "U1", c.GRADE: 9, c.TMT_CPNS: ts(2005)}
    return pd.DataFrame([{**base, **r} for r in rows])


def level_frame(levels: dict[tuple[str, str], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [{c.NIP: n, c.COMPETENCY_ID: k, c.LEVEL: v} for (n, k), v in levels.items()]
    )


def mentors_of(mentees, mentors, levels, **kw) -> list[str]:
    return sorted(eligible_pairs(mentees, mentors, levels, **kw)[M])


def test_each_eligibility_rule():
    mentors = mentor_frame(
        [
            {c.NIP: "ok"},
            {c.NIP: "inactive", c.ACTIVE: False},
            {c.NIP: "junior", c.GRADE: 6},
            {c.NIP: "same_grade_longer", c.GRADE: 7, c.TMT_CPNS: ts(2010)},
            {c.NIP: "same_grade_shorter", c.GRADE: 7, c.TMT_CPNS: ts(2018)},
            {c.NIP: "same_grade_same_day", c.GRADE: 7, c.TMT_CPNS: ts(2015)},
            {c.NIP: "no_grade", c.GRADE: None},
            {c.NIP: "no_tmt", c.GRADE: 7, c.TMT_CPNS: pd.NaT},
            {c.NIP: "low_level"},
            {c.NIP: "at_required"},
            {c.NIP: "other_comp"},
            {c.NIP: "unassessed"},
            {c.NIP: "boss"},
            {c.NIP: "e1"},  # the mentee themself, senior on paper
            {c.NIP: "elsewhere", c.UNIT_ID: "U2"},
        ]
    )
    levels = level_frame(
        {(n, "K1"): 4.0 for n in mentors[c.NIP] if n not in ("other_comp", "unassessed")}
        | {("low_level", "K1"): 2.5, ("at_required", "K1"): 3.0, ("other_comp", "K2"): 5.0}
    )
    everyone = ["at_required", "boss", "elsewhere", "ok", "same_grade_longer"]
    assert mentors_of(mentee_frame(), mentors, levels) == everyone
    assert "boss" not in mentors_of(mentee_frame(), mentors, levels, exclude_supervisor=True)
    assert "elsewhere" not in mentors_of(mentee_frame(), mentors, levels, same_unit=True)
    # Level must also be strictly above the current level.
    assert "at_required" not in mentors_of(mentee_frame(**{c.LEVEL: 3.0}), mentors, levels)
    # An unassessed mentee only needs the required level.
    assert mentors_of(mentee_frame(**{c.LEVEL: np.nan}), mentors, levels) == everyone


def test_candidate_columns_and_facts():
    mentors = mentor_frame([{c.NIP: "a", c.UNIT_ID: "U2"}, {c.NIP: "b", c.GRADE: 8}])
    levels = level_frame({("a", "K1"): 3.5, ("b", "K1"): 4.5})
    out = eligible_pairs(mentee_frame(), mentors, levels)
    assert tuple(out.columns) == CANDIDATE_COLUMNS
    assert out[M].tolist() == ["b", "a"]  # by level, descending
    assert out[MENTOR_LEVEL].tolist() == [4.5, 3.5]
    assert out[SAME_UNIT].tolist() == [True, False]
    assert out["grade_gap"].tolist() == [1.0, 2.0]
    assert out["service_gap_years"].iloc[0] == pytest.approx(10.0, abs=0.01)
    assert out[c.MENTEE_NIP].dtype == "str"


def test_unit_scope_lets_parent_units_reach_sub_units():
    units = pd.DataFrame(
        {
            c.UNIT_ID: ["opd", "bidang", "seksi", "other"],
            c.NAME: ["a", "b", "c", "d"],
            c.PARENT_UNIT_ID: [np.nan, "opd", "bidang", np.nan],
        }
    )
    scope = subunit_scope(units)
    assert scope["opd"] == {"opd", "bidang", "seksi"}
    assert scope["seksi"] == {"seksi"}
    mentors = mentor_frame(
        [
            {c.NIP: "head", c.UNIT_ID: "opd"},
            {c.NIP: "mid", c.UNIT_ID: "bidang"},
            {c.NIP: "peer", c.UNIT_ID: "seksi"},
            {c.NIP: "far", c.UNIT_ID: "other"},
        ]
    )
    levels = level_frame({(n, "K1"): 4.0 for n in mentors[c.NIP]})
    in_seksi = mentee_frame(**{c.UNIT_ID: "seksi"})
    in_bidang = mentee_frame(**{c.UNIT_ID: "bidang"})
    kw = {"same_unit": True, "unit_scope": scope}
    assert mentors_of(in_seksi, mentors, levels, **kw) == ["head", "mid", "peer"]
    assert mentors_of(in_bidang, mentors, levels, **kw) == ["head", "mid"]
    assert mentors_of(in_seksi, mentors, levels, same_unit=True) == ["peer"]
    cyclic = units.assign(**{c.PARENT_UNIT_ID: ["other", "opd", "bidang", "seksi"]})
    with pytest.raises(ValueError, match="cycle"):
        subunit_scope(cyclic)


def test_top_n_keeps_best_per_mentee():
    mentors = mentor_frame([{c.NIP: f"m{i}"} for i in range(5)])
    levels = level_frame({(f"m{i}", "K1"): 3.0 + i * 0.5 for i in range(5)})
    mentees = pd.concat([mentee_frame(), mentee_frame(**{c.NIP: "e2"})], ignore_index=True)
    out = eligible_pairs(mentees, mentors, levels, top_n=2)
    assert out.groupby(E)[M].apply(sorted).to_dict() == {"e1": ["m3", "m4"], "e2": ["m3", "m4"]}
    by_nip = eligible_pairs(mentees, mentors, levels, top_n=1, pre_score=lambda f: -f["grade_gap"])
    assert by_nip[M].tolist() == ["m0", "m0"]  # all tie: the lowest NIP wins
    with pytest.raises(ValueError):
        top_n_per_mentee(out, 0)


def test_empty_and_focusless_inputs():
    mentors = mentor_frame([{c.NIP: "a"}])
    levels = level_frame({("a", "K1"): 4.0})
    no_focus = mentee_frame(**{c.COMPETENCY_ID: np.nan, c.REQUIRED_LEVEL: np.nan})
    for mentees, mentor_rows, level_rows in (
        (mentee_frame().iloc[:0], mentors, levels),
        (mentee_frame(), mentors.iloc[:0], levels),
        (mentee_frame(), mentors, levels.iloc[:0]),
        (no_focus, mentors, levels),
    ):
        out = eligible_pairs(mentees, mentor_rows, level_rows)
        assert out.empty and tuple(out.columns) == CANDIDATE_COLUMNS


def test_bad_eligibility_inputs_are_refused():
    mentors = mentor_frame([{c.NIP: "a"}])
    levels = level_frame({("a", "K1"): 4.0})
    with pytest.raises(ValueError, match="duplicate"):
        eligible_pairs(pd.concat([mentee_frame()] * 2), mentors, levels)
    with pytest.raises(ValueError, match="duplicate"):
        eligible_pairs(mentee_frame(), mentors, pd.concat([levels] * 2))
    with pytest.raises(ValueError, match="missing columns"):
        eligible_pairs(mentee_frame().drop(columns=c.GRADE), mentors, levels)
    with pytest.raises(ValueError, match="required level"):
        eligible_pairs(mentee_frame(**{c.REQUIRED_LEVEL: np.nan}), mentors, levels)


def naive_pairs(mentees, mentors, levels, same_unit, scope, exclude_supervisor) -> set:
    level = {(r[c.NIP], r[c.COMPETENCY_ID]): r[c.LEVEL] for _, r in levels.iterrows()}
    out = set()
    for _, e in mentees.iterrows():
        for _, m in mentors.iterrows():
            lv = level.get((m[c.NIP], e[c.COMPETENCY_ID]))
            senior = m[c.GRADE] > e[c.GRADE] or (
                m[c.GRADE] == e[c.GRADE] and m[c.TMT_CPNS] < e[c.TMT_CPNS]
            )
            reach = scope.get(m[c.UNIT_ID], set()) | {m[c.UNIT_ID]} if scope else {m[c.UNIT_ID]}
            if (
                m[c.ACTIVE]
                and m[c.NIP] != e[c.NIP]
                and senior
                and lv is not None
                and lv >= e[c.REQUIRED_LEVEL]
                and (pd.isna(e[c.LEVEL]) or lv > e[c.LEVEL])
                and (not same_unit or e[c.UNIT_ID] in reach)
                and not (exclude_supervisor and m[c.NIP] == e[c.SUPERVISOR_NIP])
            ):
                out.add((e[c.NIP], m[c.NIP]))
    return out


def test_eligibility_matches_a_plain_double_loop():
    rng = np.random.default_rng(11)
    units = ["U0", "U1", "U2", "U3"]
    scope = {"U0": {"U1", "U2"}, "U1": {"U2"}}
    for trial in range(12):
        people = [f"p{i:02d}" for i in range(24)]
        mentees = pd.DataFrame(
            {
                c.NIP: people[:14],
                c.COMPETENCY_ID: rng.choice(["K1", "K2", "K3"], 14),
                c.LEVEL: np.where(rng.random(14) < 0.2, np.nan, rng.integers(1, 4, 14)),
                c.REQUIRED_LEVEL: rng.integers(2, 5, 14),
                c.UNIT_ID: rng.choice(units, 14),
                c.GRADE: rng.integers(5, 9, 14),
                c.TMT_CPNS: pd.to_datetime(rng.integers(2000, 2004, 14).astype(str)),
                c.SUPERVISOR_NIP: rng.choice(people, 14),
            }
        )
        pool = people[6:]  # some mentees are also potential mentors
        mentors = pd.DataFrame(
            {
                c.NIP: pool,
                c.ACTIVE: rng.random(len(pool)) < 0.9,
                c.UNIT_ID: rng.choice(units, len(pool)),
                c.GRADE: rng.integers(5, 10, len(pool)),
                c.TMT_CPNS: pd.to_datetime(rng.integers(1998, 2004, len(pool)).astype(str)),
            }
        )
        levels = pd.DataFrame(
            [
                {c.NIP: m, c.COMPETENCY_ID: k, c.LEVEL: float(rng.integers(2, 11)) / 2}
                for m in pool
                for k in ("K1", "K2", "K3")
                if rng.random() < 0.7
            ]
        )
        same_unit, exclude = bool(trial % 2), bool(trial % 3 == 0)
        unit_scope = scope if trial % 4 == 1 else None
        got = eligible_pairs(
            mentees,
            mentors,
            levels,
            same_unit=same_unit,
            unit_scope=unit_scope,
            exclude_supervisor=exclude,
            chunk_pairs=7,  # many chunks: the chunked expansion must not lose or repeat pairs
        )
        assert not got[[E, M]].duplicated().any()
        want = naive_pairs(mentees, mentors, levels, same_unit, unit_scope, exclude)
        assert set(zip(got[E], got[M], strict=True)) == want


def test_employee_profile_takes_grade_from_the_position():
    employees = pd.DataFrame(
        {
            c.NIP: ["a", "b"],
            c.ACTIVE: [True, False],
            c.UNIT_ID: ["U1", "U2"],
            c.TMT_CPNS: [ts(2000), ts(2010)],
            c.SUPERVISOR_NIP: [np.nan, "a"],
            c.POSITION_ID: ["P1", "P2"],
        }
    )
    positions = pd.DataFrame({c.POSITION_ID: ["P1", "P2"], c.GRADE: [12, 7]})
    profile = employee_profile(employees, positions)
    assert profile[c.GRADE].tolist() == [12, 7]
    assert set(profile.columns) >= {c.NIP, c.ACTIVE, c.UNIT_ID, c.GRADE, c.TMT_CPNS}
