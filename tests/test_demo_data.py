"""The demo dataset: deterministic, valid under the contract, realistic, and carrying the
hidden signal (drop-out by person and mode, effect != popularity) the models must find."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from demo_data import (
    generate_demo,
    write_demo,
)
from demo_data import truth as dt
from demo_data.truth import load_truth
from features import columns as c
from features.contract import TABLES
from features.dataset_writer import write_dataset, write_frames
from features.gap_closure import GAP_AFTER, GAP_BEFORE, GAP_CLOSED

_DTYPES = {
    "str": "str",
    "enum": "str",
    "float": "float64",
    "date": "datetime64[ns]",
    "bool": "bool",
}


@pytest.fixture(scope="module")
def demo():
    return generate_demo(400, seed=42)


@pytest.fixture(scope="module")
def big():
    """Large enough for the statistical signal checks, still well under a second."""
    return generate_demo(3000, seed=11)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    summary = write_demo(root / "demo", n_employees=300, seed=3)
    return root, summary


# --- determinism and form ----------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(demo):
    again = generate_demo(400, seed=42)
    for name, frame in demo.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], obj=name)
    for name, frame in demo.truth.items():
        pd.testing.assert_frame_equal(frame, again.truth[name], obj=name)
    other = generate_demo(400, seed=43)
    assert not other.tables[c.EMPLOYEES][c.NIP].equals(demo.tables[c.EMPLOYEES][c.NIP])


def test_tables_have_the_contract_columns_and_typed_dtypes(demo):
    assert list(demo.tables) == list(c.ALL_TABLES)
    for name, spec in TABLES.items():
        frame = demo.tables[name]
        assert tuple(frame.columns) == spec.column_names, name
        for col in spec.columns:
            if col.dtype == "int":
                expected = "Int64" if col.optional else "int64"
            else:
                expected = _DTYPES[col.dtype]
            assert str(frame[col.name].dtype) == expected, (name, col.name)


def test_nips_agree_with_birth_date_tmt_and_gender(demo):
    emp = demo.tables[c.EMPLOYEES]
    nip = emp[c.NIP]
    assert nip.str.fullmatch(r"\d{18}").all()
    assert nip.is_unique
    assert (nip.str[:8] == emp[c.BIRTH_DATE].dt.strftime("%Y%m%d")).all()
    assert (nip.str[8:14] == emp[c.TMT_CPNS].dt.strftime("%Y%m")).all()
    assert (nip.str[14] == emp[c.GENDER].map({"L": "1", "P": "2"})).all()
    assert nip.str[15:].astype(int).min() >= 1
    assert (emp[c.TMT_CPNS].dt.day == 1).all()


def test_row_counts_scale_with_the_number_of_employees():
    small, large = generate_demo(150, seed=5), generate_demo(600, seed=5)
    assert len(small.tables[c.EMPLOYEES]) == 150
    assert len(large.tables[c.EMPLOYEES]) == 600
    for table in (c.ENROLLMENTS, c.ASSESSMENTS, c.PERFORMANCE_REVIEWS):
        ratio = len(large.tables[table]) / len(small.tables[table])
        assert 3.0 < ratio < 5.0, (table, ratio)
    # the static catalogue does not grow with N
    assert len(large.tables[c.COURSES]) == len(small.tables[c.COURSES]) == 150


def test_course_count_is_a_parameter():
    demo = generate_demo(50, seed=1, n_courses=1000, years=1)
    assert len(demo.tables[c.COURSES]) == 1000
    assert demo.tables[c.COURSES][c.COURSE_ID].is_unique


# --- the written dataset -----------------------------------------------------------------------


def test_written_dataset_passes_validation_and_loads_back_identical(written):
    from features.io import load_dataset, validate_dataset

    root, summary = written
    report = validate_dataset(root / "demo")
    assert report.ok, [v.message for v in report.errors[:5]]
    assert not report.warnings, [v.message for v in report.warnings[:5]]
    loaded = load_dataset(root / "demo")
    demo = generate_demo(300, seed=3)
    for name, frame in demo.tables.items():
        pd.testing.assert_frame_equal(loaded[name], frame, obj=name)
    assert summary["rows"][c.EMPLOYEES] == 300


def test_parquet_output_passes_validation(tmp_path):
    from features.io import validate_dataset

    write_demo(tmp_path / "demo", n_employees=120, seed=2, fmt="parquet", years=2)
    assert sorted(p.suffix for p in (tmp_path / "demo").iterdir()) == [".parquet"] * 12
    assert validate_dataset(tmp_path / "demo").ok


def test_truth_goes_to_a_separate_sibling_folder(written):
    root, summary = written
    assert Path(summary["truth_dir"]) == (root / "demo-truth").resolve()
    dataset_files = {p.stem for p in (root / "demo").iterdir()}
    assert dataset_files == set(c.ALL_TABLES)
    truth_files = {p.stem for p in (root / "demo-truth").iterdir()}
    assert set(dt.TRUTH_TABLES) <= truth_files


def test_truth_folder_inside_the_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="truth folder"):
        write_demo(tmp_path / "demo", n_employees=20, truth_dir=tmp_path / "demo" / "truth")
    with pytest.raises(ValueError, match="truth folder"):
        write_demo(tmp_path / "demo", n_employees=20, truth_dir=tmp_path / "demo")


def test_truth_loads_back(written):
    root, _ = written
    truth = load_truth(root / "demo-truth")
    original = generate_demo(300, seed=3).truth
    for name in dt.TRUTH_TABLES:
        pd.testing.assert_frame_equal(truth[name], original[name], check_dtype=False, obj=name)


def test_progress_is_reported_in_order(tmp_path):
    seen: list[tuple[str, float]] = []
    write_demo(tmp_path / "d", n_employees=30, years=1, progress=lambda s, f: seen.append((s, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0


# --- realism -----------------------------------------------------------------------------------


def test_default_is_kertapati_and_its_kelurahan(demo):
    units = demo.tables[c.UNITS]
    names = set(units[c.NAME])
    assert "Kecamatan Kertapati" in names
    assert {"Kelurahan Kemas Rindo", "Kelurahan Ogan Baru", "Kelurahan Keramasan"} <= names
    kelurahan = units[units[c.NAME].str.startswith("Kelurahan")]
    assert (kelurahan[c.PARENT_UNIT_ID] == "KEC-KERTAPATI").all()


def test_units_form_a_tree_of_realistic_size():
    demo = generate_demo(6000, seed=4, years=1)
    units = demo.tables[c.UNITS].set_index(c.UNIT_ID)
    for unit_id in units.index:  # every chain ends at a root
        seen, node = set(), unit_id
        while isinstance(node, str):
            assert node not in seen
            seen.add(node)
            node = units.at[node, c.PARENT_UNIT_ID]
    staff = demo.tables[c.EMPLOYEES][c.UNIT_ID].value_counts()
    assert 30 <= staff.median() <= 80
    assert staff.max() <= 120


def test_people_are_plausible(demo):
    emp = demo.tables[c.EMPLOYEES]
    until = pd.Timestamp(demo.until)
    age = (until - emp[c.BIRTH_DATE]).dt.days / 365.25
    assert age.between(20, 58).all()
    assert ((emp[c.TMT_CPNS] - emp[c.BIRTH_DATE]).dt.days / 365.25 >= 18).all()
    assert 0.01 <= 1 - emp[c.ACTIVE].mean() <= 0.05
    sup = emp[c.SUPERVISOR_NIP]
    assert (sup != emp[c.NIP]).all()
    assert sup.dropna().isin(emp[c.NIP]).all()
    assert sup.isna().sum() == 1  # only the Camat: the Pemkot above has no staff in the data
    positions = demo.tables[c.POSITIONS].set_index(c.POSITION_ID)
    head = emp.loc[sup.isna(), c.POSITION_ID].item()
    assert head == "CAMAT" and positions.at[head, c.CATEGORY] == "administrator"
    # golongan follows education: nobody with SMA reaches IV/a
    rank = emp[c.GOLONGAN].map(c.GOLONGAN_RANK)
    assert rank[emp[c.EDUCATION] == "SMA"].max() <= c.GOLONGAN_RANK["III/b"]


def test_competencies_and_required_levels(demo):
    comp = demo.tables[c.COMPETENCIES].set_index(c.COMPETENCY_ID)
    assert comp.loc[[f"M{i}" for i in range(1, 9)], c.KIND].eq("manajerial").all()
    assert comp.at["M6", c.NAME] == "Pengembangan Diri dan Orang Lain"
    assert comp.at["SK1", c.KIND] == "sosial_kultural"
    req = demo.tables[c.POSITION_REQUIREMENTS].merge(demo.tables[c.POSITIONS], on=c.POSITION_ID)
    m1 = req[req[c.COMPETENCY_ID] == "M1"].set_index(c.POSITION_ID)[c.REQUIRED_LEVEL]
    assert m1["CAMAT"] == 3 and m1["LURAH"] == 2 and m1["PLK-UMUM"] == 1
    assert m1["JF-AK-MUDA"] == 2 and m1["JF-AK-MADYA"] == 3 and m1["JF-ARS-TERAMPIL"] == 1
    sk1 = req[req[c.COMPETENCY_ID] == "SK1"].set_index(c.POSITION_ID)[c.REQUIRED_LEVEL]
    assert sk1.equals(m1)
    technical = req[req[c.COMPETENCY_ID].str.startswith("T-")]
    assert technical[c.REQUIRED_LEVEL].between(2, 4).all()
    grade = demo.tables[c.POSITIONS][c.GRADE]
    assert grade.between(1, 17).all()


def test_catalogue(demo):
    courses = demo.tables[c.COURSES]
    assert set(courses[c.MODE]) == set(c.COURSE_MODES)
    assert courses[c.ACTIVE].mean() == pytest.approx(0.9, abs=0.01)
    assert courses[c.PROVIDER].str.contains("Raden Fatah").any()
    seminar = courses[courses[c.MODE] == "seminar"][c.HOURS_JP]
    assert seminar.between(2, 8).all() and courses[c.HOURS_JP].between(2, 40).all()
    per_course = demo.tables[c.COURSE_COMPETENCIES].groupby(c.COURSE_ID).size()
    assert per_course.between(1, 2).all() and len(per_course) == len(courses)
    assert len(demo.tables[c.COURSE_PREREQUISITES]) > 0


def test_history_spans_the_years_up_to_until(demo):
    enr = demo.tables[c.ENROLLMENTS]
    assert enr[c.START_DATE].min() >= pd.Timestamp("2022-10-01")
    assert enr[c.START_DATE].max() <= pd.Timestamp(demo.until)
    assert enr[c.END_DATE].max() <= pd.Timestamp(demo.until)
    assert set(enr[c.STATUS]) == set(c.ENROLLMENT_STATUSES)
    assert enr[c.SCORE].notna().eq(enr[c.STATUS] == "completed").all()
    assert not enr.duplicated([c.NIP, c.COURSE_ID]).any()
    assert set(demo.tables[c.PERFORMANCE_REVIEWS][c.YEAR]) == {2022, 2023, 2024, 2025}
    ass = demo.tables[c.ASSESSMENTS]
    assert set(ass[c.METHOD]) == set(c.ASSESSMENT_METHODS)
    decimals = ass.loc[ass[c.METHOD] == "penilaian_360", c.LEVEL] % 1
    assert (decimals > 0).mean() > 0.5
    ms = demo.tables[c.MENTORSHIPS]
    assert len(ms) > 0 and (ms[c.MENTOR_NIP] != ms[c.MENTEE_NIP]).all()
    rank = demo.tables[c.EMPLOYEES].set_index(c.NIP)[c.GOLONGAN].map(c.GOLONGAN_RANK)
    assert (rank[ms[c.MENTOR_NIP]].to_numpy() > rank[ms[c.MENTEE_NIP]].to_numpy()).all()


def test_other_until_and_years():
    demo = generate_demo(60, seed=9, years=2, until=date(2025, 3, 15))
    enr = demo.tables[c.ENROLLMENTS]
    assert enr[c.START_DATE].min() >= pd.Timestamp("2023-04-01")
    assert enr[c.START_DATE].max() <= pd.Timestamp("2025-03-15")
    assert set(demo.tables[c.PERFORMANCE_REVIEWS][c.YEAR]) == {2023, 2024}


# --- hidden signal -----------------------------------------------------------------------------


def _resolved_enrollments(demo) -> pd.DataFrame:
    enr = demo.tables[c.ENROLLMENTS]
    enr = enr[enr[c.STATUS] != "ongoing"].merge(demo.truth[dt.PERSON_TRAITS], on=c.NIP)
    return enr.assign(done=enr[c.STATUS] == "completed")


def test_completion_depends_on_persistent_person_traits(big):
    enr = _resolved_enrollments(big)
    by_engagement = enr.groupby(pd.qcut(enr[dt.ENGAGEMENT], 4, labels=False))["done"].mean()
    assert by_engagement.iloc[-1] - by_engagement.iloc[0] > 0.3
    # the same people drop out again later: completion in the first and last two years agree
    late = enr[c.START_DATE] >= pd.Timestamp("2024-10-01")
    per_person = enr.groupby([c.NIP, late])["done"].mean().unstack().dropna()
    assert per_person.corr().iloc[0, 1] > 0.25


def test_people_who_drop_classroom_courses_complete_guided_ones(big):
    enr = _resolved_enrollments(big).merge(big.tables[c.COURSES][[c.COURSE_ID, c.MODE]])
    guided = enr[dt.FORMAT_PREFERENCE] > 0.8
    rate = enr.groupby([guided, c.MODE])["done"].mean()
    assert rate[(True, "coaching")] - rate[(True, "e_learning")] > 0.25
    assert rate[(False, "e_learning")] > rate[(True, "e_learning")] + 0.15


def test_popular_courses_are_not_the_effective_ones(big):
    taken = big.tables[c.ENROLLMENTS][c.COURSE_ID].value_counts()
    effect = big.truth[dt.COURSE_EFFECTS].groupby(c.COURSE_ID)[dt.TRUE_GAIN].max()
    frame = pd.DataFrame({"taken": taken, "effect": effect}).fillna(0)
    top_effect = set(frame["effect"].nlargest(10).index)
    top_taken = set(frame["taken"].nlargest(10).index)
    assert len(top_effect & top_taken) <= 2
    assert frame.corr(method="spearman").iloc[0, 1] < 0.2


def test_ratings_follow_rapport_more_than_mentor_skill(big):
    """Satisfaction is not learning: ratings are only loosely tied to the hidden skill."""
    ms = big.tables[c.MENTORSHIPS].dropna(subset=[c.OUTCOME])
    ms = ms.merge(big.truth[dt.MENTOR_QUALITY], left_on=c.MENTOR_NIP, right_on=c.NIP)
    outcome = ms[c.OUTCOME].astype(float)
    skill = np.corrcoef(ms[dt.QUALITY], outcome)[0, 1]
    rapport = np.corrcoef(ms[dt.RAPPORT], outcome)[0, 1]
    assert 0.05 < skill < 0.4 < rapport


def test_a_mentee_never_gains_more_than_the_mentors_lead():
    """Mentoring passes on what the mentor knows: however skilled the mentor (lognormal skill has
    mentors ten times the median), the expected gain stays within the lead, so within level 5."""
    skill = np.array([0.5, 1.0, 12.0, 12.0, 30.0, 5.0])
    lead = np.array([1.0, 0.2, 0.3, 2.0, 4.0, -0.5])
    gain = dt.mentor_gain(skill, np.ones(len(skill)), lead)
    assert (gain <= np.maximum(lead, 0) + 1e-12).all()
    assert gain[5] == 0.0 and gain[2] == pytest.approx(0.3) and 0 < gain[0] < gain[3]


def test_mentoring_gain_shows_in_assessments(big):
    """Mentees of skilled mentors gain more between the baseline and post assessments."""
    from features.mentor_pair_features import LEVEL_CHANGE, mentorship_examples

    examples = mentorship_examples(big.tables, [pd.Timestamp("2024-09-30")])
    examples = examples.dropna(subset=[LEVEL_CHANGE])
    skill = big.truth[dt.MENTOR_QUALITY].set_index(c.NIP)[dt.QUALITY]
    quality = skill.reindex(examples[c.MENTOR_NIP]).to_numpy()
    assert len(examples) > 100
    assert np.corrcoef(quality, examples[LEVEL_CHANGE])[0, 1] > 0.1
    assert examples[LEVEL_CHANGE].mean() > 0


def test_assessments_measure_the_latent_level(big):
    last = big.tables[c.ASSESSMENTS].sort_values(c.ASSESSED_ON)
    last = last[last[c.ASSESSED_ON] >= pd.Timestamp("2026-01-01")]
    last = last.merge(big.truth[dt.TRUE_LEVELS], on=[c.NIP, c.COMPETENCY_ID])
    assert np.corrcoef(last[c.LEVEL], last[dt.TRUE_LEVEL])[0, 1] > 0.5
    self_bias = last[last[c.METHOD] == "mandiri"].eval("level - true_level").mean()
    center_bias = last[last[c.METHOD] == "assessment_center"].eval("level - true_level").mean()
    assert self_bias > center_bias + 0.2  # self-assessments flatter


def test_gaps_remain_to_be_closed(big):
    emp = big.tables[c.EMPLOYEES][[c.NIP, c.POSITION_ID]]
    req = emp.merge(big.tables[c.POSITION_REQUIREMENTS], on=c.POSITION_ID)
    req = req.merge(big.truth[dt.TRUE_LEVELS], on=[c.NIP, c.COMPETENCY_ID])
    above_one = req[req[c.REQUIRED_LEVEL] >= 2]
    gap = (above_one[c.REQUIRED_LEVEL] - above_one[dt.TRUE_LEVEL]).clip(lower=0)
    assert 0.2 < (gap > 0.5).mean() < 0.7


# --- evaluation API ----------------------------------------------------------------------------


def test_expected_outcomes_match_the_simulated_completion_rate(big):
    enr = _resolved_enrollments(big)
    scored = dt.expected_outcomes(big.truth, enr[[c.NIP, c.COURSE_ID]])
    per_pair = scored.drop_duplicates([c.NIP, c.COURSE_ID])
    assert len(per_pair) == len(enr)
    assert per_pair[dt.P_COMPLETE].mean() == pytest.approx(enr["done"].mean(), abs=0.02)
    assert np.allclose(
        scored[dt.EXPECTED_GAIN], scored[dt.P_COMPLETE] * scored[dt.GAIN_IF_COMPLETED]
    )
    assert (scored[dt.GAIN_IF_COMPLETED] >= 0).all()


def test_expected_outcomes_rejects_unknown_ids(demo):
    nip = demo.tables[c.EMPLOYEES][c.NIP].iloc[0]
    with pytest.raises(KeyError, match="nip"):
        dt.expected_outcomes(demo.truth, pd.DataFrame({c.NIP: ["1"], c.COURSE_ID: ["PLT-0001"]}))
    with pytest.raises(KeyError, match="course_id"):
        dt.expected_outcomes(demo.truth, pd.DataFrame({c.NIP: [nip], c.COURSE_ID: ["NOPE"]}))


def test_true_best_path_closes_more_gap_than_a_popular_one(demo):
    """The truth can tell a good path from a popular one for the same people."""
    emp = demo.tables[c.EMPLOYEES]
    nips = emp[c.NIP].iloc[:60]
    pairs = pd.DataFrame(
        {
            c.NIP: np.repeat(nips.to_numpy(), len(demo.tables[c.COURSES])),
            c.COURSE_ID: np.tile(demo.tables[c.COURSES][c.COURSE_ID].to_numpy(), len(nips)),
        }
    )
    scored = dt.expected_outcomes(demo.truth, pairs)
    gain = scored.groupby([c.NIP, c.COURSE_ID], sort=False)[dt.EXPECTED_GAIN].sum()
    best = gain.groupby(level=0, group_keys=False).nlargest(3).reset_index()[[c.NIP, c.COURSE_ID]]
    popular = demo.truth[dt.COURSE_PARAMS].nlargest(3, dt.POPULARITY)[c.COURSE_ID].to_numpy()
    popular_path = pd.DataFrame(
        {c.NIP: np.repeat(nips.to_numpy(), 3), c.COURSE_ID: np.tile(popular, len(nips))}
    )
    good = dt.expected_gap_closure(demo.truth, demo.tables, best)
    bad = dt.expected_gap_closure(demo.truth, demo.tables, popular_path)
    assert (good[GAP_CLOSED] >= -1e-12).all()
    assert good[GAP_CLOSED].sum() > bad[GAP_CLOSED].sum()
    assert (good[GAP_AFTER] <= good[GAP_BEFORE] + 1e-12).all()


# --- writer ------------------------------------------------------------------------------------


def test_writer_uses_the_contract_text_form(tmp_path):
    employees = pd.DataFrame(
        {
            c.NIP: pd.Series(["198001012005011001", "199002022015022002"], dtype="str"),
            c.NAME: pd.Series(["Budi, S.E.", 'Siti "Ayu"'], dtype="str"),
            c.GENDER: pd.Series(["L", "P"], dtype="str"),
            c.BIRTH_DATE: pd.to_datetime(["1980-01-01", "1990-02-02"]),
            c.TMT_CPNS: pd.to_datetime(["2005-01-01", "2015-02-01"]),
            c.GOLONGAN: pd.Series(["III/a", "II/b"], dtype="str"),
            c.EDUCATION: pd.Series(["S1", "SMA"], dtype="str"),
            c.UNIT_ID: pd.Series(["U1", "U1"], dtype="str"),
            c.POSITION_ID: pd.Series(["P", "P"], dtype="str"),
            c.SUPERVISOR_NIP: pd.Series([np.nan, "198001012005011001"], dtype="str"),
            c.ACTIVE: [True, False],
            "extra": [1, 2],
        }
    )
    mentorships = pd.DataFrame(
        {
            c.MENTOR_NIP: pd.Series(["1", "1"], dtype="str"),
            c.MENTEE_NIP: pd.Series(["2", "3"], dtype="str"),
            c.COMPETENCY_ID: pd.Series(["M1", "M2"], dtype="str"),
            c.START_DATE: pd.to_datetime(["2024-01-01", "2024-02-01"]),
            c.END_DATE: pd.to_datetime([None, "2024-05-31"]),
            c.OUTCOME: pd.array([pd.NA, 4], dtype="Int64"),
        }
    )
    write_dataset({c.EMPLOYEES: employees, c.MENTORSHIPS: mentorships}, tmp_path)
    assert (tmp_path / "employees.csv").read_text(encoding="utf-8").splitlines() == [
        "nip,name,gender,birth_date,tmt_cpns,golongan,education,unit_id,position_id,"
        "supervisor_nip,active",
        '198001012005011001,"Budi, S.E.",L,1980-01-01,2005-01-01,III/a,S1,U1,P,,true',
        '199002022015022002,"Siti ""Ayu""",P,1990-02-02,2015-02-01,II/b,SMA,U1,P,'
        "198001012005011001,false",
    ]
    assert (tmp_path / "mentorships.csv").read_text(encoding="utf-8").splitlines() == [
        "mentor_nip,mentee_nip,competency_id,start_date,end_date,outcome",
        "1,2,M1,2024-01-01,,",
        "1,3,M2,2024-02-01,2024-05-31,4",
    ]


def test_writer_refuses_unknown_tables_and_missing_columns(tmp_path):
    with pytest.raises(KeyError, match="not contract tables"):
        write_dataset({"salaries": pd.DataFrame()}, tmp_path)
    with pytest.raises(KeyError, match="missing contract columns"):
        write_dataset({c.UNITS: pd.DataFrame({c.UNIT_ID: ["U"]})}, tmp_path)
    with pytest.raises(ValueError, match="fmt"):
        write_dataset({}, tmp_path, fmt="xlsx")


def test_writer_replaces_the_other_format(tmp_path):
    units = pd.DataFrame(
        {
            c.UNIT_ID: ["U"],
            c.NAME: ["Kecamatan"],
            c.PARENT_UNIT_ID: pd.Series([np.nan], dtype="str"),
        }
    )
    write_dataset({c.UNITS: units}, tmp_path, fmt="parquet")
    write_dataset({c.UNITS: units}, tmp_path, fmt="csv")
    assert [p.name for p in tmp_path.iterdir()] == ["units.csv"]


def test_write_frames_keeps_types_in_text(tmp_path):
    frame = pd.DataFrame(
        {
            "id": pd.Series(["007"], dtype="str"),
            "n": pd.array([3], dtype="Int64"),
            "x": [0.25],
            "d": pd.to_datetime(["2026-09-30"]),
            "b": [True],
        }
    )
    write_frames({"side": frame}, tmp_path)
    assert (tmp_path / "side.csv").read_text().splitlines() == [
        "id,n,x,d,b",
        "007,3,0.25,2026-09-30,true",
    ]
