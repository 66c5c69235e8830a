"""Reading dataset folders: typed form, CSV text rules, Parquet, file-level problems."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_dataset import CAMAT, tiny_tables, write_tiny

from features import columns as c
from features.contract import TABLES
from features.io import (
    DatasetError,
    _csv_layout,
    _csv_layout_slow,
    empty_table,
    load_dataset,
    read_tables,
    validate_dataset,
    write_dataset,
)


def errors(report) -> set[tuple]:
    return {(v.file, v.line, v.column, v.rule) for v in report.errors}


def replace_text(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, count), encoding="utf-8")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "data")


def assert_same_tables(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(TABLES)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=True, obj=name)


def test_csv_round_trip_gives_the_typed_form(data: Path) -> None:
    assert_same_tables(load_dataset(data), tiny_tables())


def test_parquet_round_trip(tmp_path: Path) -> None:
    write_dataset(tiny_tables(), tmp_path, fmt="parquet")
    assert_same_tables(load_dataset(tmp_path), tiny_tables())


def test_mixed_csv_and_parquet(data: Path) -> None:
    (data / "assessments.csv").unlink()
    write_dataset({c.ASSESSMENTS: tiny_tables()[c.ASSESSMENTS]}, data, fmt="parquet")
    assert_same_tables(load_dataset(data), tiny_tables())


def test_csv_text_form_is_the_contracts(data: Path) -> None:
    lines = (data / "employees.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "nip,name,gender,birth_date,tmt_cpns,golongan,education,unit_id,position_id,"
        "supervisor_nip,active"
    )
    assert lines[1] == (
        f'{CAMAT},"Drs. Ahmad Fauzi, M.Si.",L,1975-03-12,2000-03-01,IV/a,S2,01,P01,,true'
    )
    mentorships = (data / "mentorships.csv").read_text(encoding="utf-8").splitlines()
    assert mentorships[1].endswith(",M08,2023-01-09,2023-06-30,4")
    assert mentorships[2].endswith(",2024-01-15,,")


def test_identifiers_stay_strings(data: Path) -> None:
    """'01.01' is not the number 1.01, '01' keeps its zero, and an NIP keeps all 18 digits."""
    tables = load_dataset(data)
    assert tables[c.UNITS][c.UNIT_ID].tolist() == ["01", "01.01", "01.02"]
    assert tables[c.EMPLOYEES][c.NIP].iloc[0] == CAMAT
    assert tables[c.EMPLOYEES][c.NIP].dtype == "str"


def test_na_is_a_value_not_missing(data: Path) -> None:
    replace_text(data / "units.csv", "Seksi Pemerintahan", "NA")
    replace_text(data / "courses.csv", "LAN RI", "N/A")
    tables = load_dataset(data)
    assert tables[c.UNITS][c.NAME].iloc[1] == "NA"
    assert tables[c.COURSES][c.PROVIDER].iloc[2] == "N/A"


def test_empty_cell_is_missing(data: Path) -> None:
    tables = load_dataset(data)
    assert pd.isna(tables[c.UNITS][c.PARENT_UNIT_ID].iloc[0])
    assert pd.isna(tables[c.ENROLLMENTS][c.END_DATE].iloc[2])
    assert pd.isna(tables[c.MENTORSHIPS][c.OUTCOME].iloc[1])


def test_extra_column_is_a_warning_only(data: Path, caplog) -> None:
    path = data / "courses.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows = [rows[0] + ",catatan"] + [row + ",x" for row in rows[1:]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = validate_dataset(data)
    assert report.ok
    assert [(v.file, v.line, v.column, v.rule) for v in report.warnings] == [
        ("courses.csv", 1, "catatan", "extra_column")
    ]
    with caplog.at_level(logging.WARNING, logger="features.io"):
        tables = load_dataset(data)
    assert list(tables[c.COURSES].columns) == list(TABLES[c.COURSES].column_names)
    assert "extra_column 1" in caplog.text


def test_column_order_is_free(data: Path) -> None:
    frame = pd.read_csv(data / "units.csv", dtype=str, keep_default_na=False)
    frame[[c.PARENT_UNIT_ID, c.NAME, c.UNIT_ID]].to_csv(data / "units.csv", index=False)
    assert_same_tables(load_dataset(data), tiny_tables())


@pytest.mark.parametrize("table", sorted(c.OPTIONAL_TABLES))
def test_missing_optional_table_is_empty_and_typed(data: Path, table: str) -> None:
    (data / f"{table}.csv").unlink()
    tables = load_dataset(data)
    assert len(tables[table]) == 0
    pd.testing.assert_frame_equal(tables[table], empty_table(table))
    assert tables[table].dtypes.to_dict() == tiny_tables()[table].dtypes.to_dict()


def test_missing_required_table_is_an_error(data: Path) -> None:
    (data / "competencies.csv").unlink()
    assert errors(validate_dataset(data)) == {("competencies.csv", None, None, "missing_file")}


def test_header_only_file_is_an_empty_table(data: Path) -> None:
    path = data / "mentorships.csv"
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert len(load_dataset(data)[c.MENTORSHIPS]) == 0


def test_missing_column_is_an_error(data: Path) -> None:
    frame = pd.read_csv(data / "courses.csv", dtype=str, keep_default_na=False)
    frame.drop(columns=[c.HOURS_JP]).to_csv(data / "courses.csv", index=False)
    assert errors(validate_dataset(data)) == {("courses.csv", 1, c.HOURS_JP, "missing_column")}


def test_duplicate_column_is_an_error(data: Path) -> None:
    path = data / "units.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows = [rows[0] + ",name"] + [row + ",x" for row in rows[1:]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert errors(validate_dataset(data)) == {("units.csv", 1, c.NAME, "duplicate_column")}


def test_csv_and_parquet_of_one_table_is_an_error(data: Path) -> None:
    write_dataset({c.UNITS: tiny_tables()[c.UNITS]}, data, fmt="parquet")
    assert errors(validate_dataset(data)) == {("units.csv", None, None, "ambiguous_file")}


def test_unknown_file_is_a_warning(data: Path) -> None:
    (data / "employee.csv").write_text("nip\n1\n", encoding="utf-8")
    report = validate_dataset(data)
    assert report.ok
    assert [(v.file, v.rule) for v in report.warnings] == [("employee.csv", "unknown_file")]


def test_not_utf8_is_a_file_level_error(data: Path) -> None:
    path = data / "employees.csv"
    text = path.read_text(encoding="utf-8").replace("Budi Santoso", "Budi Santoso é")
    path.write_bytes(text.encode("latin-1"))
    assert errors(validate_dataset(data)) == {("employees.csv", 4, None, "encoding")}


def test_utf8_bom_and_crlf_are_accepted(data: Path) -> None:
    path = data / "units.csv"
    text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert_same_tables(load_dataset(data), tiny_tables())


def test_line_numbers_are_physical_lines(data: Path) -> None:
    """Blank lines and a quoted cell spanning two lines shift the line of later rows."""
    path = data / "units.csv"
    path.write_text(
        "unit_id,name,parent_unit_id\n"
        "\n"
        '01,"Kecamatan\nSukamaju",\n'
        "\n"
        "01.01,Seksi Pemerintahan,01\n"
        '01.02,"Kelurahan ""Mekar"", Sari",09\n',
        encoding="utf-8",
    )
    report = validate_dataset(data)
    assert errors(report) == {("units.csv", 7, c.PARENT_UNIT_ID, "reference")}
    assert report.tables[c.UNITS][c.NAME].tolist() == [
        "Kecamatan\nSukamaju",
        "Seksi Pemerintahan",
        'Kelurahan "Mekar", Sari',
    ]


def test_stray_quote_inside_a_field_keeps_line_numbers(data: Path) -> None:
    replace_text(data / "courses.csv", "Penyusunan Kebijakan Publik", 'Kebijakan 5" Publik')
    replace_text(data / "courses.csv", "seminar,8,false", "seminar,0,false")
    report = validate_dataset(data)
    assert errors(report) == {("courses.csv", 6, c.HOURS_JP, "range")}
    assert report.tables[c.COURSES][c.TITLE].iloc[4] == 'Kebijakan 5" Publik'


def test_short_row_is_an_error_on_its_line(data: Path) -> None:
    path = data / "positions.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[2] = "P02,Kepala Seksi Pemerintahan,pengawas"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert errors(validate_dataset(data)) == {("positions.csv", 3, None, "csv_format")}


def test_long_row_is_an_error_on_its_line(data: Path) -> None:
    path = data / "positions.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    rows[3] += ",extra"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = validate_dataset(data)
    assert ("positions.csv", 4, None, "csv_format") in errors(report)
    assert {v.rule for v in report.errors} == {"csv_format"}


def test_empty_file_is_an_error(data: Path) -> None:
    (data / "competencies.csv").write_text("\n\n", encoding="utf-8")
    assert errors(validate_dataset(data)) == {("competencies.csv", None, None, "csv_format")}


def test_parquet_violation_names_the_row(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables[c.POSITIONS] = tables[c.POSITIONS].assign(
        grade=lambda f: f[c.GRADE].where(f.index != 2, 20)
    )
    write_dataset(tables, tmp_path, fmt="parquet")
    (v,) = validate_dataset(tmp_path).errors
    assert (v.file, v.line, v.column, v.rule) == ("positions.parquet", 3, c.GRADE, "range")
    assert "Parquet row 3" in v.message


def test_parquet_identifier_stored_as_number_is_refused(tmp_path: Path) -> None:
    write_dataset(tiny_tables(), tmp_path, fmt="parquet")
    units = pq.read_table(tmp_path / "units.parquet")
    units = units.set_column(0, c.UNIT_ID, pa.array([1, 101, 102]))
    pq.write_table(units, tmp_path / "units.parquet")
    (v,) = validate_dataset(tmp_path).errors
    assert (v.file, v.line, v.column, v.rule) == ("units.parquet", None, c.UNIT_ID, "type")


def test_parquet_whole_floats_are_ints_fractions_are_not(tmp_path: Path) -> None:
    write_dataset(tiny_tables(), tmp_path, fmt="parquet")
    positions = pq.read_table(tmp_path / "positions.parquet")
    positions = positions.set_column(3, c.GRADE, pa.array([12.0, 9.5, 5.0, 8.0]))
    pq.write_table(positions, tmp_path / "positions.parquet")
    report = validate_dataset(tmp_path)
    assert errors(report) == {("positions.parquet", 2, c.GRADE, "type")}


def test_parquet_text_columns_use_the_csv_rules(tmp_path: Path) -> None:
    write_dataset(tiny_tables(), tmp_path, fmt="parquet")
    text = (
        tiny_tables()[c.COURSES].astype(str).assign(active=["true", "yes", "true", "true", "false"])
    )
    text.to_parquet(tmp_path / "courses.parquet", index=False)
    assert errors(validate_dataset(tmp_path)) == {("courses.parquet", 2, c.ACTIVE, "type")}


def test_load_dataset_raises_with_every_violation(data: Path) -> None:
    replace_text(data / "positions.csv", "administrator,12", "administrator,99")
    replace_text(data / "competencies.csv", "Integritas,manajerial", "Integritas,manajemen")
    with pytest.raises(DatasetError) as caught:
        load_dataset(data)
    assert {(v.file, v.rule) for v in caught.value.violations} == {
        ("positions.csv", "range"),
        ("competencies.csv", "enum"),
    }
    text = str(caught.value)
    assert "2 error(s)" in text and "positions.csv line 2, column grade" in text


def test_read_tables_reports_type_errors_once(data: Path) -> None:
    replace_text(data / "positions.csv", "administrator,12", "administrator,dua belas")
    read = read_tables(data)
    assert [(v.file, v.line, v.column, v.value, v.rule) for v in read.violations] == [
        ("positions.csv", 2, c.GRADE, "dua belas", "type")
    ]
    assert read.tables[c.POSITIONS][c.GRADE].dtype == "Int64"  # the cell could not be typed
    assert read.sources[c.POSITIONS].lines.tolist() == [2, 3, 4, 5]


def test_not_a_folder(tmp_path: Path) -> None:
    report = validate_dataset(tmp_path / "nope")
    assert not report.ok
    assert ("missing_file", None) in {(v.rule, v.line) for v in report.errors}


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.lists(st.text(alphabet='ab ,"\n', max_size=5), min_size=2, max_size=4),
        min_size=1,
        max_size=8,
    ),
    blank_after=st.lists(st.integers(0, 8), max_size=3),
    crlf=st.booleans(),
)
def test_fast_csv_layout_matches_the_csv_module(rows, blank_after, crlf) -> None:
    """The vectorised record finder agrees with Python's csv reader on quoted CSV."""
    end = "\r\n" if crlf else "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=end)
    for i, row in enumerate(rows):
        writer.writerow(row)
        buffer.write(end * blank_after.count(i))
    data = buffer.getvalue().encode("utf-8")
    fast = _csv_layout(data)
    slow = _csv_layout_slow(data.decode("utf-8"))
    assert fast is not None and slow is not None
    assert fast[0].tolist() == slow[0].tolist()
    assert fast[1].tolist() == slow[1].tolist()
    assert fast[2] == slow[2] == rows[0]
