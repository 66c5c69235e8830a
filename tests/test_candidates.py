"""Candidate generation and pair features on a hand-made catalogue with known answers.

Employee E1 at level 2 on K1 (requires 4: gap 2), level 4 on K2 (requires 3: met), never
assessed on K3 (requires 3: gap 2 from the floor level 1). Courses, (competency, min, target):

    A  K1 2->3           content, closes 1
    B  K1 3->4           underprepared (3 > 2 + 0.5 tolerance): closes 1 x 0.5; often taken
                         after P
    C  K1 1->2           already at its target
    D  K3 1->2           content, closes 1
    E  K3 2->4           underprepared for an unassessed level: closes 2 x 0.5
    F  K1 2->4           inactive
    G  K1 2->4           completed by E1
    H  K1 2->4           E1 is taking it
    I  K2 4->5           growth: K2 is met, the band lifts it by 1
    K  K1 2->4, K3 1->3  content, closes 2 + 2 (best)
    P  K2 1->2           completed by E1 and by many others, who then took B
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from features import columns as c
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, STALENESS_DAYS
from features.course_knowledge import provider_kind
from features.course_score_effects import course_score_effects
from features.level_estimates import LEVEL_MEAN
from features.pair_features import (
    BAND_FEATURES,
    GAIN_FEATURES,
    PAIR_FEATURES,
    CourseKnowledge,
    EmployeeArrays,
    band_features,
    band_fit,
    pair_features,
)
from features.plan_input import EmployeeView
from model.candidates import (
    COLLABORATIVE_SCORE,
    CONTENT_SCORE,
    GROWTH_SCORE,
    MIN_COURSE_WEIGHT,
    CandidateGenerator,
    course_pairs_matrix,
    course_weight,
    item_similarity,
)

E1, E2 = "198001012005011001", "198202022008012002"
BANDS = {
    "A": [("K1", 2, 3)],
    "B": [("K1", 3, 4)],
    "C": [("K1", 1, 2)],
    "D": [("K3", 1, 2)],
    "E": [("K3", 2, 4)],
    "F": [("K1", 2, 4)],
    "G": [("K1", 2, 4)],
    "H": [("K1", 2, 4)],
    "I": [("K2", 4, 5)],
    "K": [("K1", 2, 4), ("K3", 1, 3)],
    "P": [("K2", 1, 2)],
}
MODES = {"A": "klasikal", "D": "coaching", "K": "klasikal"}


def courses_frame() -> pd.DataFrame:
    ids = list(BANDS)
    return pd.DataFrame(
        {
            c.COURSE_ID: ids,
            c.TITLE: [f"Pelatihan {i}" for i in ids],
            c.PROVIDER: ["LAN RI"] * len(ids),
            c.MODE: [MODES.get(i, "e_learning") for i in ids],
            c.HOURS_JP: [16] * len(ids),
            c.ACTIVE: [i != "F" for i in ids],
        }
    )


def bands_frame() -> pd.DataFrame:
    rows = [(cid, k, lo, hi) for cid, bands in BANDS.items() for k, lo, hi in bands]
    return pd.DataFrame(rows, columns=[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL])


def make_view(nips=(E1, E2)) -> EmployeeView:
    employees = pd.DataFrame(
        {
            c.NIP: [E1, E2],
            "completion_rate": [0.5, 0.9],
            "klasikal_completion_rate": [0.2, 0.9],
            "coaching_completion_rate": [0.95, 0.9],
            "position_category": ["pelaksana", "pengawas"],
        }
    )
    comp = pd.DataFrame(
        [
            (E1, "K1", 2.0, 4.0, 2.0, 100.0, True),
            (E1, "K2", 4.0, 3.0, 0.0, 100.0, True),
            (E1, "K3", np.nan, 3.0, 2.0, np.nan, True),
            (E2, "K1", 3.0, 4.0, 1.0, 10.0, True),
        ],
        columns=[
            c.NIP,
            c.COMPETENCY_ID,
            CURRENT_LEVEL,
            c.REQUIRED_LEVEL,
            GAP,
            STALENESS_DAYS,
            REQUIRED,
        ],
    )
    completed = pd.DataFrame({c.NIP: [E1, E1], c.COURSE_ID: ["G", "P"]})
    ongoing = pd.DataFrame({c.NIP: [E1], c.COURSE_ID: ["H"]})
    view = EmployeeView(pd.Timestamp("2025-01-01"), employees, comp, completed, ongoing)
    return view.subset(list(nips))


@pytest.fixture(scope="module")
def knowledge() -> CourseKnowledge:
    return CourseKnowledge.from_frames(courses_frame(), bands_frame(), ["K1", "K2", "K3"])


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Twenty people completed P then B; E1 completed P."""
    others = [f"1990010120150110{i:02d}" for i in range(20)]
    rows = [(n, cid) for n in others for cid in ("P", "B")] + [(E1, "P")]
    return pd.DataFrame(rows, columns=[c.NIP, c.COURSE_ID])


def candidates(gen: CandidateGenerator, knowledge: CourseKnowledge, view: EmployeeView):
    return gen.candidates_frame(view, knowledge)


def test_content_candidates_known_answer(knowledge, history):
    gen = CandidateGenerator(use_collaborative=False, growth=False).fit(history, knowledge)
    out = candidates(gen, knowledge, make_view([E1]))
    # Closures 4, 1, 1, 2 x 0.5, 1 x 0.5; ties by catalogue order.
    assert list(out[c.COURSE_ID]) == ["K", "A", "D", "E", "B"]
    assert (out[CONTENT_SCORE] > 0).all() and (out[GROWTH_SCORE] == 0).all()
    score = out.set_index(c.COURSE_ID)[CONTENT_SCORE]
    assert score.to_numpy() / score["A"] == pytest.approx([4, 1, 1, 1, 0.5])
    # Without credit for underprepared bands, only fitting ones remain.
    strict = gen.set_params(underprepared_factor=0.0)
    assert list(candidates(strict, knowledge, make_view([E1]))[c.COURSE_ID]) == ["K", "A", "D"]


def test_course_weight_follows_the_post_test_value_added(history):
    # A's participants learn more than D's: among equal closures, A first; a course far
    # below the others is floored, not dropped.
    frame = courses_frame().assign(score_effect=[1.0 if i == "A" else -2.0 for i in BANDS])
    knowledge = CourseKnowledge.from_frames(frame, bands_frame(), ["K1", "K2", "K3"])
    assert course_weight(knowledge, 0.75)[0] == pytest.approx(1.75)
    assert course_weight(knowledge, 0.75)[3] == pytest.approx(MIN_COURSE_WEIGHT)
    gen = CandidateGenerator(use_collaborative=False, growth=False).fit(history, knowledge)
    score = candidates(gen, knowledge, make_view([E1])).set_index(c.COURSE_ID)[CONTENT_SCORE]
    assert score["A"] == pytest.approx(1.75 * score["D"] / MIN_COURSE_WEIGHT)
    assert list(score.index[:2]) == ["A", "K"]


def test_growth_candidates_come_after_gap_closing_ones(knowledge, history):
    gen = CandidateGenerator(use_collaborative=False).fit(history, knowledge)
    out = candidates(gen, knowledge, make_view([E1]))
    assert list(out[c.COURSE_ID]) == ["K", "A", "D", "E", "B", "I"]
    assert out.set_index(c.COURSE_ID).loc["I", GROWTH_SCORE] > 0


def test_collaborative_candidates_follow_co_completions(knowledge, history):
    gen = CandidateGenerator(growth=False).fit(history, knowledge)
    out = candidates(gen, knowledge, make_view([E1]))
    assert set(out[c.COURSE_ID]) == {"K", "A", "D", "E", "B"}
    assert out.set_index(c.COURSE_ID).loc["B", COLLABORATIVE_SCORE] > 0
    # Three slots: content keys 0, 1/0.7, 2/0.7, ...; collaborative key 0 -> K, B, A.
    three = candidates(gen.set_params(n_candidates=3), knowledge, make_view([E1]))
    assert list(three[c.COURSE_ID]) == ["B", "K", "A"]


def test_never_completed_ongoing_or_inactive(knowledge, history):
    gen = CandidateGenerator(n_candidates=50).fit(history, knowledge)
    out = candidates(gen, knowledge, make_view())
    mine = set(out.loc[out[c.NIP] == E1, c.COURSE_ID])
    assert not mine & {"F", "G", "H", "P"}
    assert "F" not in set(out[c.COURSE_ID])
    # E2 (level 3 on K1, nothing taken) may get G and H.
    assert {"B", "G", "H"} <= set(out.loc[out[c.NIP] == E2, c.COURSE_ID])


def test_batch_equals_single(knowledge, history):
    gen = CandidateGenerator().fit(history, knowledge)
    both = candidates(gen, knowledge, make_view())
    for nip in (E1, E2):
        single = candidates(gen, knowledge, make_view([nip]))
        expected = both.loc[both[c.NIP] == nip].reset_index(drop=True)
        pd.testing.assert_frame_equal(single, expected)


def test_generator_contract(knowledge, history):
    gen = CandidateGenerator()
    with pytest.raises(NotFittedError):
        candidates(gen, knowledge, make_view())
    assert gen.fit(history, knowledge) is gen
    with pytest.raises(ValueError):
        CandidateGenerator(n_candidates=0).fit(history, knowledge)
    with pytest.raises(ValueError, match="lacks columns"):
        CandidateGenerator().fit(history[[c.NIP]], knowledge)


def test_item_similarity_brute_force():
    rng = np.random.default_rng(3)
    dense = (rng.random((30, 6)) < 0.4).astype(float)
    sim = item_similarity(sp.csr_matrix(dense), shrinkage=2.0)
    for i in range(6):
        for j in range(6):
            co = (dense[:, i] * dense[:, j]).sum()
            ni, nj = dense[:, i].sum(), dense[:, j].sum()
            want = 0.0 if i == j or ni * nj == 0 else co / np.sqrt(ni * nj) * co / (co + 2.0)
            assert sim[i, j] == pytest.approx(want)


def test_course_pairs_matrix_ignores_unknown_ids():
    pairs = pd.DataFrame({c.NIP: ["a", "a", "b", "z"], c.COURSE_ID: ["x", "x", "q", "y"]})
    m = course_pairs_matrix(pairs, pd.Index(["a", "b"]), pd.Index(["x", "y"]))
    assert m.toarray().tolist() == [[1.0, 0.0], [0.0, 0.0]]


# --- pair features ---------------------------------------------------------------------------


def test_pair_features_known_answer():
    pairs = pd.DataFrame({c.NIP: [E1, E1, E2], c.COURSE_ID: ["K", "D", "K"]})
    out = pair_features(make_view(), courses_frame(), bands_frame(), pairs)
    assert list(out.columns) == [c.NIP, c.COURSE_ID, *PAIR_FEATURES]
    k, d, k2 = (out.iloc[i] for i in range(3))
    assert k["course_mode_klasikal"] == 1 and d["course_mode_coaching"] == 1
    assert k["course_provider_lan"] == 1 and k["course_n_competencies"] == 2
    assert k["mode_completion_rate"] == pytest.approx(0.2)
    assert d["mode_completion_rate"] == pytest.approx(0.95)
    assert k["mode_completion_vs_overall"] == pytest.approx(-0.3)
    assert k["emp_category_pelaksana"] == 1 and np.isnan(k["emp_skp_latest"])
    # K on E1: K1 level 2 in band 2->4, K3 assumed 1 in band 1->3, both gaps 2.
    assert (k["fit_n_gap_bands"], k["fit_gap_sum"], k["fit_closure"]) == (2, 4, 4)
    assert k["fit_level_minus_min"] == 0 and k["fit_target_minus_level"] == 2
    assert k["fit_in_band_share"] == 1 and k["fit_assessed_share"] == 0.5
    assert k["fit_required_share"] == 1
    # K on E2: K1 level 3 (gap 1), K3 unknown and not required for E2.
    assert (k2["fit_n_gap_bands"], k2["fit_gap_sum"], k2["fit_closure"]) == (1, 1, 1)
    assert k2["fit_required_share"] == 0.5


def test_band_features_one_row_per_band():
    pairs = pd.DataFrame({c.NIP: [E1, E2], c.COURSE_ID: ["K", "A"]})
    out = band_features(make_view(), courses_frame(), bands_frame(), pairs)
    assert list(out.columns) == [c.NIP, c.COURSE_ID, c.COMPETENCY_ID, *GAIN_FEATURES]
    assert list(zip(out[c.NIP], out[c.COMPETENCY_ID], strict=True)) == [
        (E1, "K1"),
        (E1, "K3"),
        (E2, "K1"),
    ]
    k3 = out.iloc[1]
    assert np.isnan(k3["band_current_level"]) and k3["band_assessed"] == 0
    assert k3["band_level_minus_min"] == 0 and k3["band_gap"] == 2
    assert k3["band_required_level"] == 3
    a = out.iloc[2]
    assert a["band_in_band"] == 0  # level 3 is at A's target
    assert set(BAND_FEATURES) <= set(out.columns)
    assert out["band_level_mean"].isna().all()  # the view carries no posterior levels


def test_band_features_carry_the_posterior_level():
    view = make_view()
    comp = view.competency.assign(**{LEVEL_MEAN: [2.4, 3.6, 1.8, 2.9]})
    view = EmployeeView(view.as_of, view.employees, comp, view.completed, view.ongoing)
    pairs = pd.DataFrame({c.NIP: [E1, E2], c.COURSE_ID: ["K", "A"]})
    out = band_features(view, courses_frame(), bands_frame(), pairs)
    assert out["band_level_mean"].tolist() == [2.4, 1.8, 2.9]


def test_pair_features_reject_unknown_ids():
    view = make_view()
    with pytest.raises(ValueError, match="not in the view"):
        pair_features(
            view, courses_frame(), bands_frame(), pd.DataFrame({c.NIP: ["x"], c.COURSE_ID: ["A"]})
        )
    with pytest.raises(ValueError, match="unknown course"):
        pair_features(
            view, courses_frame(), bands_frame(), pd.DataFrame({c.NIP: [E1], c.COURSE_ID: ["Z"]})
        )


def test_band_fit_known_answer():
    # Band 2 -> 4: below (1.4), inside from 1.5, at or above the target nothing.
    level = np.array([1.0, 1.4, 1.5, 3.9, 4.0, 4.5])
    fit = band_fit(level, np.full(6, 2.0), np.full(6, 4.0), underprepared_factor=0.3)
    assert band_fit(level, 2.0, 4.0, 0.3, tolerance=0.0).tolist() == [0.3, 0.3, 0.3, 1, 0, 0]
    assert fit.tolist() == [0.3, 0.3, 1.0, 1.0, 0.0, 0.0]


def _enrollments(rows: list[tuple[str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.NIP: [r[0] for r in rows],
            c.COURSE_ID: [r[1] for r in rows],
            c.STATUS: ["completed" if r[2] is not None else "dropped" for r in rows],
            c.SCORE: [np.nan if r[2] is None else r[2] for r in rows],
        }
    )


def test_course_score_effects_known_answer():
    # Everyone takes GOOD and BAD; GOOD scores 10 points higher for everyone. NONE was only
    # dropped, OTHER is not in the catalogue.
    people = [f"p{i}" for i in range(6)]
    rows = [(p, "GOOD", 70.0 + i) for i, p in enumerate(people)]
    rows += [(p, "BAD", 60.0 + i) for i, p in enumerate(people)]
    rows += [("p0", "NONE", None), ("p1", "OTHER", 99.0)]
    # Without noise the two effects are certain: +-1 between-course deviation.
    z = course_score_effects(_enrollments(rows), ["GOOD", "BAD", "NONE"], shrinkage=1e-9)
    assert z[:2] == pytest.approx([1.0, -1.0], rel=1e-4) and np.isnan(z[2])
    # All alike: no course stands out.
    same = course_score_effects(_enrollments([(p, "GOOD", 80.0) for p in people]), ["GOOD"])
    assert same.tolist() == [0.0]


def test_course_score_effects_do_not_credit_who_takes_a_course():
    # Strong people (+15 on every post-test) took ELITE, weak ones OPEN, everyone COMMON;
    # no course teaches more than another, so ELITE must not look better the way its raw
    # mean does. Scores carry noise (sd 3).
    noise = iter(np.random.default_rng(4).normal(0.0, 3.0, size=64))
    strong, weak = [f"s{i}" for i in range(16)], [f"w{i}" for i in range(16)]
    rows = [(p, "COMMON", 85.0 + next(noise)) for p in strong]
    rows += [(p, "COMMON", 70.0 + next(noise)) for p in weak]
    rows += [(p, "ELITE", 85.0 + next(noise)) for p in strong]
    rows += [(p, "OPEN", 70.0 + next(noise)) for p in weak]
    enrollments = _enrollments(rows)
    raw = enrollments.groupby(c.COURSE_ID)[c.SCORE].mean()
    assert raw["ELITE"] - raw["OPEN"] > 12.0
    z = course_score_effects(enrollments, ["COMMON", "ELITE", "OPEN"])
    assert np.abs(z).max() < 0.1


def test_course_knowledge_reads_the_score_effect():
    frame = courses_frame().assign(score_effect=np.arange(len(BANDS), dtype=float))
    knowledge = CourseKnowledge.from_frames(frame, bands_frame(), ["K1", "K2", "K3"])
    assert knowledge.score_effect.tolist() == list(range(len(BANDS)))
    col = PAIR_FEATURES.index("course_score_effect")
    assert knowledge.features[:, col].tolist() == list(range(len(BANDS)))
    # Typed course tables lack it: unknown.
    plain = CourseKnowledge.from_frames(courses_frame(), bands_frame(), ["K1", "K2", "K3"])
    assert np.isnan(plain.score_effect).all()


def test_employee_arrays_dense_known_answer(knowledge):
    emp = EmployeeArrays.from_view(make_view(), knowledge.competency_ids)
    assert emp.gap.tolist() == [[2.0, 0.0, 2.0], [1.0, 0.0, 0.0]]
    assert np.isnan(emp.current[0, 2]) and emp.level[0, 2] == c.MIN_LEVEL_VALUE
    assert np.isnan(emp.required[1, 1])


def test_provider_kinds():
    names = [
        "LAN RI",
        "BPSDM Provinsi Sumatera Selatan",
        "BKPSDM Kota Palembang",
        "Kemendagri (BPSDM Kemendagri)",
        "Universitas Sriwijaya",
        "UIN Raden Fatah",
        "Dinas Jalan dan Bulan",
        None,
    ]
    assert list(provider_kind(names)) == [
        "lan",
        "bpsdm_provinsi",
        "bkpsdm_daerah",
        "kementerian",
        "perguruan_tinggi",
        "perguruan_tinggi",
        "lainnya",
        "lainnya",
    ]
