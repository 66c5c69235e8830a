"""Each rule of the data contract: the tiny dataset passes, a copy broken in one place gives
exactly one expected violation (file, line, column, rule)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_dataset import CAMAT, KASI, NEW_CPNS, STAFF_A, tiny_tables, write_tiny

from features import columns as c
from features.io import validate_dataset
from features.report import WARNING_RULES, Violation, format_report, report_to_rows
from features.validation import validate_tables


def _rows(folder: Path, table: str) -> list[list[str]]:
    with (folder / f"{table}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _write_rows(folder: Path, table: str, rows: list[list[str]]) -> None:
    with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def set_cell(folder: Path, table: str, row: int, column: str, text: str) -> int:
    """Overwrite one cell (row 0 = first data row); return its CSV line number."""
    rows = _rows(folder, table)
    rows[row + 1][rows[0].index(column)] = text
    _write_rows(folder, table, rows)
    return row + 2


def append_row(folder: Path, table: str, values: dict[str, str]) -> int:
    """Append a data row (missing columns empty); return its line number."""
    rows = _rows(folder, table)
    rows.append([values.get(name, "") for name in rows[0]])
    _write_rows(folder, table, rows)
    return len(rows)


def found(report, *, warnings: bool = False) -> set[tuple]:
    items = report.warnings if warnings else report.errors
    return {(v.file, v.line, v.column, v.rule) for v in items}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "data")


def test_tiny_dataset_is_clean(data: Path) -> None:
    report = validate_dataset(data)
    assert report.errors == [] and report.warnings == []
    assert report.ok
    assert report.row_counts[c.EMPLOYEES] == 8
    assert set(report.tables) == set(tiny_tables())


def test_tiny_tables_clean_in_memory() -> None:
    report = validate_tables(tiny_tables())
    assert report.ok and not report.warnings


# (table, row, column, new text, expected rule) — one broken cell each
CELL_CASES = [
    (c.POSITIONS, 1, c.GRADE, "twelve", "type"),
    (c.POSITIONS, 1, c.GRADE, "9.0", "type"),
    (c.ASSESSMENTS, 2, c.LEVEL, "3,5", "type"),
    (c.ASSESSMENTS, 2, c.ASSESSED_ON, "02/05/2023", "type"),
    (c.ENROLLMENTS, 0, c.START_DATE, "2023-02-30", "type"),
    (c.COURSES, 0, c.ACTIVE, "yes", "type"),
    (c.COURSES, 0, c.ACTIVE, "True", "type"),
    (c.UNITS, 1, c.NAME, "", "required"),
    (c.EMPLOYEES, 2, c.GOLONGAN, "", "required"),
    (c.COMPETENCIES, 0, c.KIND, "teknikal", "enum"),
    (c.EMPLOYEES, 2, c.GOLONGAN, "III/e", "enum"),
    (c.ENROLLMENTS, 1, c.STATUS, "selesai", "enum"),
    (c.POSITIONS, 0, c.GRADE, "18", "range"),
    (c.ASSESSMENTS, 0, c.LEVEL, "5.5", "range"),
    (c.ENROLLMENTS, 0, c.SCORE, "101", "range"),
    (c.MENTORSHIPS, 0, c.OUTCOME, "0", "range"),
    (c.COURSES, 2, c.HOURS_JP, "0", "range"),
    (c.ENROLLMENTS, 0, c.COURSE_ID, "C99", "reference"),
    (c.ASSESSMENTS, 3, c.NIP, "199001012015031999", "reference"),
    (c.EMPLOYEES, 1, c.SUPERVISOR_NIP, "197001012000011001", "reference"),
    (c.UNITS, 2, c.PARENT_UNIT_ID, "02", "reference"),
    (c.POSITION_REQUIREMENTS, 0, c.COMPETENCY_ID, "m01", "reference"),
    (c.COURSE_PREREQUISITES, 0, c.PREREQUISITE_ID, "C9", "reference"),
    (c.MENTORSHIPS, 1, c.COMPETENCY_ID, "X", "reference"),
    (c.EMPLOYEES, 7, c.NIP, "19981225202401200", "nip_format"),
    (c.EMPLOYEES, 7, c.NIP, "1998122520240120O1", "nip_format"),
    (c.EMPLOYEES, 7, c.NIP, "199813252024012001", "nip_format"),
    (c.EMPLOYEES, 7, c.NIP, "199812252024132001", "nip_format"),
    (c.EMPLOYEES, 7, c.NIP, "199812252024013001", "nip_format"),
    (c.EMPLOYEES, 7, c.BIRTH_DATE, "1998-12-24", "nip_birth_date"),
    (c.EMPLOYEES, 1, c.TMT_CPNS, "2005-05-01", "nip_tmt_cpns"),
    (c.EMPLOYEES, 3, c.GENDER, "L", "nip_gender"),
    (c.EMPLOYEES, 2, c.SUPERVISOR_NIP, STAFF_A, "supervisor_not_self"),
    (c.PERFORMANCE_REVIEWS, 2, c.RATING, "sangat_baik", "skp_rating_matrix"),
    (c.PERFORMANCE_REVIEWS, 7, c.RATING, "kurang", "skp_rating_matrix"),
    (c.COURSE_COMPETENCIES, 2, c.MIN_LEVEL, "4", "min_below_target"),
    (c.MENTORSHIPS, 2, c.MENTEE_NIP, "199211302019022001", "mentee_not_mentor"),
]


@pytest.mark.parametrize(("table", "row", "column", "text", "rule"), CELL_CASES)
def test_one_broken_cell_gives_one_violation(data, table, row, column, text, rule) -> None:
    line = set_cell(data, table, row, column, text)
    report = validate_dataset(data)
    assert found(report) == {(f"{table}.csv", line, column, rule)}
    (violation,) = report.errors
    assert violation.value == (text or None)
    assert violation.message


def test_tmt_cpns_day_is_free(data: Path) -> None:
    """The NIP holds the TMT year and month only: any day of that month agrees."""
    set_cell(data, c.EMPLOYEES, 1, c.TMT_CPNS, "2005-04-17")
    assert validate_dataset(data).ok


def test_nip_format_message_names_each_problem(data: Path) -> None:
    set_cell(data, c.EMPLOYEES, 7, c.NIP, "199813252024133001")
    (v,) = validate_dataset(data).errors
    assert "digits 1-8" in v.message and "digits 9-14" in v.message and "digit 15" in v.message


def test_duplicate_key_names_first_line(data: Path) -> None:
    rows = _rows(data, c.COMPETENCIES)
    line_a = append_row(data, c.COMPETENCIES, dict(zip(rows[0], rows[3], strict=True)))
    line_b = append_row(data, c.COMPETENCIES, dict(zip(rows[0], rows[3], strict=True)))
    report = validate_dataset(data)
    assert found(report) == {
        ("competencies.csv", line_a, c.COMPETENCY_ID, "unique"),
        ("competencies.csv", line_b, c.COMPETENCY_ID, "unique"),
    }
    assert all("first on line 4" in v.message for v in report.errors)


def test_duplicate_composite_key(data: Path) -> None:
    line = append_row(
        data, c.PERFORMANCE_REVIEWS, {c.NIP: CAMAT, c.YEAR: "2024", c.WORK_RESULT: "sesuai",
                                      c.WORK_BEHAVIOR: "sesuai", c.RATING: "baik"}
    )  # fmt: skip
    (v,) = validate_dataset(data).errors
    assert (v.line, v.column, v.rule) == (line, "nip+year", "unique")
    assert v.value == f"{CAMAT} / 2024" and "first on line 3" in v.message


def test_repeated_assessments_and_enrollments_are_allowed(data: Path) -> None:
    rows = _rows(data, c.ENROLLMENTS)
    append_row(data, c.ENROLLMENTS, dict(zip(rows[0], rows[1], strict=True)))
    rows = _rows(data, c.ASSESSMENTS)
    append_row(data, c.ASSESSMENTS, dict(zip(rows[0], rows[1], strict=True)))
    assert validate_dataset(data).ok


def test_unit_cycle_reports_each_unit_on_it(data: Path) -> None:
    line = set_cell(data, c.UNITS, 0, c.PARENT_UNIT_ID, "01.01")
    report = validate_dataset(data)
    assert found(report) == {
        ("units.csv", line, c.PARENT_UNIT_ID, "unit_hierarchy_acyclic"),
        ("units.csv", 3, c.PARENT_UNIT_ID, "unit_hierarchy_acyclic"),
    }
    assert all("01, 01.01" in v.message for v in report.errors)


def test_unit_self_parent(data: Path) -> None:
    line = set_cell(data, c.UNITS, 2, c.PARENT_UNIT_ID, "01.02")
    assert found(validate_dataset(data)) == {
        ("units.csv", line, c.PARENT_UNIT_ID, "unit_hierarchy_acyclic")
    }


def test_prerequisite_cycle_one_line_per_course(data: Path) -> None:
    line = append_row(data, c.COURSE_PREREQUISITES, {c.COURSE_ID: "C01", c.PREREQUISITE_ID: "C03"})
    report = validate_dataset(data)
    f = "course_prerequisites.csv"
    assert found(report) == {
        (f, 2, c.COURSE_ID, "prerequisites_acyclic"),
        (f, 3, c.COURSE_ID, "prerequisites_acyclic"),
        (f, line, c.COURSE_ID, "prerequisites_acyclic"),
    }
    assert sorted(v.value for v in report.errors) == ["C01", "C02", "C03"]


def test_prerequisite_self_loop_and_tail_off_cycle(data: Path) -> None:
    line = append_row(data, c.COURSE_PREREQUISITES, {c.COURSE_ID: "C04", c.PREREQUISITE_ID: "C04"})
    append_row(data, c.COURSE_PREREQUISITES, {c.COURSE_ID: "C05", c.PREREQUISITE_ID: "C04"})
    assert found(validate_dataset(data)) == {
        ("course_prerequisites.csv", line, c.COURSE_ID, "prerequisites_acyclic")
    }


def test_long_chain_is_not_a_cycle() -> None:
    """Iterative cycle detection: a 5,000-course chain neither recurses nor is a cycle."""
    tables = tiny_tables()
    n = 5_000
    ids = [f"K{i:05d}" for i in range(n)]
    tables[c.COURSES] = pd.DataFrame(
        {
            c.COURSE_ID: pd.Series(ids, dtype="str"),
            c.TITLE: pd.Series(ids, dtype="str"),
            c.PROVIDER: pd.Series(["LAN RI"] * n, dtype="str"),
            c.MODE: pd.Series(["klasikal"] * n, dtype="str"),
            c.HOURS_JP: np.full(n, 8, dtype="int64"),
            c.ACTIVE: np.ones(n, bool),
        }
    )
    tables[c.COURSE_PREREQUISITES] = pd.DataFrame(
        {
            c.COURSE_ID: pd.Series(ids[1:], dtype="str"),
            c.PREREQUISITE_ID: pd.Series(ids[:-1], dtype="str"),
        }
    )
    for name in (c.COURSE_COMPETENCIES, c.ENROLLMENTS):
        tables[name] = tables[name].iloc[0:0]
    report = validate_tables(tables)
    assert report.ok, format_report(report)
    closing = pd.DataFrame({c.COURSE_ID: [ids[0]], c.PREREQUISITE_ID: [ids[-1]]}, dtype="str")
    tables[c.COURSE_PREREQUISITES] = pd.concat(
        [tables[c.COURSE_PREREQUISITES], closing], ignore_index=True
    )
    report = validate_tables(tables)
    assert {v.rule for v in report.errors} == {"prerequisites_acyclic"}
    assert len(report.errors) == n


# (table, row, column, new text, expected warning rule): accepted by the contract
WARNING_CASES = [
    (c.ENROLLMENTS, 0, c.END_DATE, "2023-01-15", "end_after_start"),
    (c.MENTORSHIPS, 0, c.END_DATE, "2022-12-31", "end_after_start"),
    (c.ENROLLMENTS, 2, c.END_DATE, "2024-03-05", "ongoing_with_end_date"),
    (c.ENROLLMENTS, 3, c.SCORE, "40", "score_without_completion"),
    (c.ENROLLMENTS, 5, c.END_DATE, "", "completed_without_end_date"),
    (c.ASSESSMENTS, 4, c.ASSESSED_ON, "1989-01-01", "assessed_before_birth"),
]


@pytest.mark.parametrize(("table", "row", "column", "text", "rule"), WARNING_CASES)
def test_plausibility_problems_are_warnings_only(data, table, row, column, text, rule) -> None:
    line = set_cell(data, table, row, column, text)
    report = validate_dataset(data)
    assert report.ok and report.errors == []
    assert found(report, warnings=True) == {(f"{table}.csv", line, column, rule)}
    assert rule in WARNING_RULES


def test_reported_cell_is_not_reported_twice(data: Path) -> None:
    """An unparsable birth_date is one `type` error, not also required/nip_birth_date."""
    line = set_cell(data, c.EMPLOYEES, 0, c.BIRTH_DATE, "12-03-1975")
    assert found(validate_dataset(data)) == {("employees.csv", line, c.BIRTH_DATE, "type")}


def test_missing_referenced_table_does_not_flood(data: Path) -> None:
    (data / "courses.csv").unlink()
    assert found(validate_dataset(data)) == {("courses.csv", None, None, "missing_file")}


def test_in_memory_missing_table_and_wrong_dtype() -> None:
    tables = tiny_tables()
    del tables[c.COURSES]
    tables[c.POSITIONS] = tables[c.POSITIONS].assign(grade=lambda f: f[c.GRADE].astype(str))
    employees = tables[c.EMPLOYEES].drop(columns=[c.BIRTH_DATE])
    tables[c.EMPLOYEES] = employees.assign(tmt_cpns=lambda f: f[c.TMT_CPNS].astype(str))
    report = validate_tables(tables)
    assert {(v.file, v.column, v.rule) for v in report.errors} == {
        ("courses.csv", None, "missing_file"),
        ("positions.csv", c.GRADE, "type"),
        ("employees.csv", c.BIRTH_DATE, "missing_column"),
        ("employees.csv", c.TMT_CPNS, "type"),
    }


def test_format_report_caps_listing(data: Path) -> None:
    rows = _rows(data, c.ASSESSMENTS)
    for row in rows[1:]:
        row[rows[0].index(c.LEVEL)] = "9"
    _write_rows(data, c.ASSESSMENTS, rows)
    set_cell(data, c.ENROLLMENTS, 0, c.END_DATE, "2023-01-15")
    report = validate_dataset(data)
    text = format_report(report, max_rows=3)
    assert "10 error(s), 1 warning(s)" in text
    assert "… and 7 more violations" in text
    assert "range" in text and "10" in text
    assert "assessments.csv line 2, column level, value '9': must be in 1..5" in text
    assert text.rstrip().endswith("Result: FAILED (fix the errors above)")
    assert "[" not in text  # safe to print with rich markup


def test_report_to_rows(data: Path) -> None:
    set_cell(data, c.POSITIONS, 0, c.GRADE, "18")
    set_cell(data, c.ENROLLMENTS, 0, c.END_DATE, "2023-01-15")
    rows = report_to_rows(validate_dataset(data))
    assert [(r["severity"], r["file"], r["line"], r["rule"]) for r in rows] == [
        ("error", "positions.csv", 2, "range"),
        ("warning", "enrollments.csv", 2, "end_after_start"),
    ]
    assert set(rows[0]) == {"severity", "file", "line", "column", "value", "rule", "message"}


def test_violation_is_frozen() -> None:
    v = Violation("units.csv", 2, c.NAME, None, "required", "empty")
    with pytest.raises(AttributeError):
        v.line = 3  # type: ignore[misc]


def test_supervisor_chain_may_reference_later_rows(data: Path) -> None:
    """References are set membership: order of rows does not matter."""
    rows = _rows(data, c.EMPLOYEES)
    _write_rows(data, c.EMPLOYEES, [rows[0], *reversed(rows[1:])])
    assert validate_dataset(data).ok


def test_mentorship_focus_and_people_must_exist(data: Path) -> None:
    line = set_cell(data, c.MENTORSHIPS, 0, c.MENTOR_NIP, NEW_CPNS[:-1] + "9")
    assert found(validate_dataset(data)) == {("mentorships.csv", line, c.MENTOR_NIP, "reference")}


def test_kasi_constant_matches_data() -> None:
    assert KASI in set(tiny_tables()[c.EMPLOYEES][c.NIP])
