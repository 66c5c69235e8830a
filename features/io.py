"""Reading and writing dataset folders (CSV or Parquet per table) in the contract's typed form.

Reading is strict: each cell is parsed by the rule of its column and every cell that does not
parse becomes a `Violation` naming the file and the physical line. Nothing is guessed,
coerced or dropped; `load_dataset` refuses a dataset that breaks any rule of the contract.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract import TABLES, ColumnSpec, TableSpec, null_column, typed_dtype
from features.report import TableSource, ValidationReport, Violation, format_report
from features.validation import validate_tables

logger = logging.getLogger(__name__)

_INT_RE = r"[+-]?\d{1,18}"
_FLOAT_RE = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
#: datetime64[ns] covers 1677-09-21 .. 2262-04-11; whole years inside that window are accepted.
_MIN_DATE = np.datetime64("1678-01-01")
_MAX_DATE = np.datetime64("2261-12-31")
_TYPE_MESSAGES = {
    "int": "not a whole number (digits only, e.g. 12)",
    "float": "not a number (use '.' as the decimal separator, e.g. 3.5)",
    "date": "not a real date in the form YYYY-MM-DD",
    "bool": "not true or false (lower case)",
}
_BOM = b"\xef\xbb\xbf"


class DatasetError(Exception):
    """The dataset breaks the contract; `.violations` lists every error found."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        self.violations: list[Violation] = list(report.errors)
        super().__init__(format_report(report, max_rows=20))


class DatasetRead(NamedTuple):
    """What `read_tables` found: typed tables, where each row came from, and read violations."""

    tables: dict[str, pd.DataFrame]
    violations: list[Violation]
    sources: dict[str, TableSource]


def dtype_of(spec: ColumnSpec) -> str:
    """Pandas dtype of a contract column in the typed form."""
    return typed_dtype(spec)


def empty_table(table: str) -> pd.DataFrame:
    """An empty typed frame with the table's columns: the form of an absent optional table."""
    spec = TABLES[table]
    return pd.DataFrame(
        {col.name: pd.Series([], dtype=dtype_of(col)) for col in spec.columns},
        index=pd.RangeIndex(0),
    )


def load_dataset(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read and fully validate a dataset folder; raise `DatasetError` if any rule is broken.

    Returns every table of the contract in the typed form (absent optional tables as empty
    frames). Warnings (e.g. unknown extra columns) do not stop loading; they are logged once.
    """
    report = validate_dataset(folder)
    if not report.ok:
        raise DatasetError(report)
    if report.warnings:
        counts = Counter(v.rule for v in report.warnings)
        logger.warning(
            "dataset %s: %d warning(s) (%s); run `kompeten validate` for details",
            folder,
            len(report.warnings),
            ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items())),
        )
    return report.tables


def validate_dataset(folder: str | Path) -> ValidationReport:
    """Read a dataset folder once and check every rule of the contract."""
    read = read_tables(folder)
    return validate_tables(read.tables, read.sources, read.violations)


def read_tables(folder: str | Path) -> DatasetRead:
    """Parse every table of the folder once into the typed form, collecting read violations.

    File-level problems (missing or ambiguous file, bad encoding, broken CSV structure, missing
    or duplicated columns) and unparsable cells are reported here; the content rules are
    checked by `features.validation.validate_tables` on the result.
    """
    folder = Path(folder)
    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, TableSource] = {}
    found: list[Violation] = []
    if not folder.is_dir():
        found.append(Violation(str(folder), None, None, None, "missing_file", "not a folder"))
    for name, spec in TABLES.items():
        table, source, problems = _read_table(folder, spec)
        tables[name] = table
        sources[name] = source
        found.extend(problems)
    found.extend(_unknown_files(folder))
    return DatasetRead(tables, found, sources)


def write_dataset(
    tables: Mapping[str, pd.DataFrame], folder: str | Path, fmt: str = "csv"
) -> list[Path]:
    """Write typed tables in the contract's file format; return the paths written.

    CSV cells use the contract's text form: ISO dates, `true`/`false`, integers without
    ".0", an empty cell for a missing value. Parquet keeps native types (strings stay strings).
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        spec = TABLES[name]
        frame = frame[list(spec.column_names)]
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            text = text_table(frame, spec)
            text.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        written.append(path)
    return written


def type_text_table(raw: pd.DataFrame, spec: TableSpec, file: str) -> pd.DataFrame:
    """The typed form of a table held as contract text (the dataset store's form); a cell
    that does not parse raises `ValueError` (the store only holds validated rows)."""
    table, _, problems = _type_columns(raw, spec, file, np.arange(2, len(raw) + 2))
    if problems:
        raise ValueError(f"{file}: {problems[0].message} ({problems[0].column})")
    return table


def text_table(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """A typed table in the contract's text form (the cells `write_dataset` writes to CSV)."""
    return pd.DataFrame(
        {col.name: _to_text(frame[col.name], col) for col in spec.columns},
        index=pd.RangeIndex(len(frame)),
    )


# --- reading one table ----------------------------------------------------------------------


def _read_table(folder: Path, spec: TableSpec) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    csv_path, pq_path = folder / f"{spec.name}.csv", folder / f"{spec.name}.parquet"
    if csv_path.exists() and pq_path.exists():
        message = f"both {csv_path.name} and {pq_path.name} exist; keep only one"
        return _unusable(spec, csv_path.name, "ambiguous_file", message)
    if pq_path.exists():
        return _read_parquet(pq_path, spec)
    if csv_path.exists():
        return _read_csv(csv_path, spec)
    if spec.optional:
        return empty_table(spec.name), TableSource(csv_path.name, np.zeros(0, np.int64)), []
    return _unusable(spec, csv_path.name, "missing_file", "required file is missing")


def _unusable(
    spec: TableSpec, file: str, rule: str, message: str, line: int | None = None
) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    return _as_unusable(spec, file, [Violation(file, line, None, None, rule, message)])


def _read_csv(path: Path, spec: TableSpec) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    return read_csv_bytes(path.read_bytes(), path.name, spec)


def read_csv_bytes(
    data: bytes, file: str, spec: TableSpec
) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    """One table from CSV bytes (a file, an upload): parsed and cell-checked as in a folder;
    violations name `file`."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if (np.frombuffer(data, np.uint8) >= 0x80).any():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            bad = data[err.start : err.end].hex(" ")
            message = f"not UTF-8 text (byte {bad}); save the file as UTF-8"
            return _unusable(spec, file, "encoding", message, line)
    layout = _csv_layout(data)
    if layout is None:
        return _unusable(spec, file, "csv_format", "the file is empty (no header row)")
    lines, n_fields, header = layout
    found = _header_violations(file, int(lines[0]), header, spec)
    long_rows = np.flatnonzero(n_fields[1:] > len(header))
    if long_rows.size:
        found += [
            Violation(
                file,
                int(lines[i + 1]),
                None,
                None,
                "csv_format",
                f"row has {n_fields[i + 1]} fields but the header has {len(header)}",
            )
            for i in long_rows
        ]
        return _as_unusable(spec, file, found)
    regular = len(set(header)) == len(header) and (n_fields[1:] == len(header)).all()
    try:
        raw = _parse_csv(data, header) if regular else None
    except pa.ArrowInvalid:  # e.g. a line of spaces: let pandas apply its own rules
        raw = None
    try:
        if raw is None:
            raw = pd.read_csv(
                io.BytesIO(data),
                dtype=str,
                keep_default_na=False,
                encoding="utf-8",
                index_col=False,
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        found.append(Violation(file, None, None, None, "csv_format", str(err).strip()))
        return _as_unusable(spec, file, found)
    if len(raw) != len(lines) - 1:  # pandas read the structure differently: say so, no guessing
        message = f"{len(raw)} rows parsed but {len(lines) - 1} records found; check the quoting"
        found.append(Violation(file, None, None, None, "csv_format", message))
        return _as_unusable(spec, file, found)
    row_lines, row_fields = lines[1:], n_fields[1:]
    short = np.flatnonzero(row_fields < len(header))
    found += [
        Violation(
            file,
            int(row_lines[i]),
            None,
            None,
            "csv_format",
            f"row has {row_fields[i]} fields but the header has {len(header)}",
        )
        for i in short
    ]
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        position.setdefault(name, i)
    table, reported, problems = _type_columns(
        raw, spec, file, row_lines, missing_after=lambda name: row_fields <= position[name]
    )
    found += problems
    return table, TableSource(file, row_lines, reported), found


def _parse_csv(data: bytes, header: list[str]) -> pd.DataFrame:
    """Every cell as text, "" for an empty cell ("NA" stays "NA"): pyarrow's parser, several
    times faster than pandas' for millions of rows; used on well-formed files only."""
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(encoding="utf8"),
        parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in data, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    return table.to_pandas(types_mapper=lambda kind: text if pa.types.is_string(kind) else None)


def _as_unusable(
    spec: TableSpec, file: str, found: list[Violation]
) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    return empty_table(spec.name), TableSource(file, np.zeros(0, np.int64), usable=False), found


def _header_violations(
    file: str, line: int | None, header: list[str], spec: TableSpec
) -> list[Violation]:
    found = []
    counts = Counter(header)
    for name, n in counts.items():
        if n > 1:
            message = f"column {name!r} appears {n} times in the header"
            found.append(Violation(file, line, name, None, "duplicate_column", message))
    for col in spec.columns:
        if col.name not in counts:
            message = f"column {col.name!r} is missing from the header ({col.rule})"
            if col.optional:
                message += "; its cells may be empty but the column must be there"
            found.append(Violation(file, line, col.name, None, "missing_column", message))
    known = set(spec.column_names)
    for i, name in enumerate(dict.fromkeys(header)):
        if name not in known:
            label = repr(name) if name.strip() else f"an unnamed column (position {i + 1})"
            message = f"unknown column {label} is ignored"
            found.append(Violation(file, line, name, None, "extra_column", message))
    return found


def _csv_layout(data: bytes) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Physical start line and field count of every non-blank CSV record, and the header.

    Vectorised over the bytes: with RFC 4180 quoting (a quoted field starts right after a
    delimiter, doubled quotes inside) a newline or comma is structural when an even number of
    quote characters precede it. Files with quotes elsewhere go through the csv module.
    Blank lines are skipped, as pandas skips them. Returns None when there is no header.
    """
    buf = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    commas = np.flatnonzero(buf == 0x2C)
    quotes = np.flatnonzero(buf == 0x22)
    ends = newlines
    if quotes.size:
        if not _regular_quotes(buf, quotes):
            return _csv_layout_slow(data.decode("utf-8"))
        ends = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
        commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    if ends.size == 0 or ends[-1] < len(data) - 1:  # last record without a final newline
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    n_commas = np.diff(np.searchsorted(commas, ends), prepend=0)  # commas before each end
    keep = np.ones(ends.size, bool)
    for i in np.flatnonzero(n_commas == 0):  # blank-line candidates: few
        keep[i] = bool(data[starts[i] : ends[i]].strip())
    if not keep.any():
        return None
    first = np.flatnonzero(keep)[0]
    header_text = data[starts[first] : ends[first]].decode("utf-8").rstrip("\r\n")
    header = next(csv.reader(io.StringIO(header_text, newline="")))
    if ends.size == newlines.size or ends.size == newlines.size + 1:  # one line per record
        lines = np.flatnonzero(keep) + 1
    else:
        lines = np.searchsorted(newlines, starts[keep]) + 1
    return lines, n_commas[keep] + 1, header


def _regular_quotes(buf: np.ndarray, quotes: np.ndarray) -> bool:
    """Whether every quote opens a field, closes one, or is a doubled quote inside one."""
    if quotes.size % 2:
        return False
    opening, closing = quotes[0::2], quotes[1::2]
    doubled = np.zeros(opening.size, bool)
    doubled[1:] = opening[1:] == closing[:-1] + 1  # "" inside a quoted field
    before = np.where(opening > 0, buf[np.maximum(opening - 1, 0)], 0x0A)
    opens_field = np.isin(before, (0x2C, 0x0A))
    after_pos = closing + 1
    after = np.where(after_pos < buf.size, buf[np.minimum(after_pos, buf.size - 1)], 0x0A)
    closes_field = np.isin(after, (0x2C, 0x0A, 0x0D, 0x22))
    return bool((doubled | opens_field).all() and closes_field.all())


def _csv_layout_slow(text: str) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Layout by the csv module (a loop over records): only for irregularly quoted files."""
    lines, n_fields, header = [], [], None
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    for record in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        header = record if header is None else header
        lines.append(start)
        n_fields.append(len(record))
    if header is None:
        return None
    return np.asarray(lines, np.int64), np.asarray(n_fields, np.int64), header


def _read_parquet(path: Path, spec: TableSpec) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        return _unusable(spec, path.name, "parquet_format", f"unreadable Parquet file: {err}")
    header = list(arrow.column_names)
    found = _header_violations(path.name, None, header, spec)
    row_numbers = np.arange(1, arrow.num_rows + 1)
    raw = {}
    for col in spec.columns:
        if col.name not in header:
            continue
        column = arrow.column(header.index(col.name))
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        raw[col.name] = column
    table, reported, problems = _type_columns(raw, spec, path.name, row_numbers)
    return table, TableSource(path.name, row_numbers, reported), found + problems


# --- typing columns -------------------------------------------------------------------------


def _type_columns(
    raw: pd.DataFrame | Mapping[str, pa.ChunkedArray],
    spec: TableSpec,
    file: str,
    lines: np.ndarray,
    missing_after=None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[Violation]]:
    """Typed frame with exactly the contract's columns, cells already reported, violations."""
    n = len(lines)
    out, reported, found = {}, {}, []
    for col in spec.columns:
        if col.name not in raw:
            out[col.name] = null_column(col, n)
            reported[col.name] = np.ones(n, bool)
            continue
        values = raw[col.name]
        if isinstance(values, pd.Series):
            typed, bad = _parse_text(values, col)
        else:
            typed, bad, column_problem = _parse_arrow(values, col)
            if column_problem:
                found.append(Violation(file, None, col.name, None, "type", column_problem))
                out[col.name] = null_column(col, n)
                reported[col.name] = np.ones(n, bool)
                continue
        found += _cell_violations(file, lines, values, bad, col)
        skip = bad if missing_after is None else bad | missing_after(col.name)
        if skip.any():
            reported[col.name] = skip
        out[col.name] = typed
    frame = pd.DataFrame(out, index=pd.RangeIndex(n))
    return frame, reported, found


def _cell_violations(
    file: str, lines: np.ndarray, values, bad: np.ndarray, col: ColumnSpec
) -> list[Violation]:
    rows = np.flatnonzero(bad)
    if rows.size == 0:
        return []
    if isinstance(values, pd.Series):
        shown = values.iloc[rows].tolist()
    else:
        shown = [str(v) for v in values.take(pa.array(rows)).to_pylist()]
    message = _TYPE_MESSAGES[col.dtype]
    return [
        Violation(file, int(lines[i]), col.name, str(v), "type", message)
        for i, v in zip(rows, shown, strict=True)
    ]


def _parse_text(text: pd.Series, col: ColumnSpec) -> tuple[pd.Series, np.ndarray]:
    """Typed column and mask of unparsable cells, from cells read as text ("" = missing)."""
    text = text.astype("str").reset_index(drop=True)
    empty = (text.isna() | (text == "")).to_numpy(bool)
    if col.dtype in ("str", "enum"):
        return text.mask(empty), np.zeros(len(text), bool)
    if col.dtype == "bool":
        ok = text.isin(["true", "false"]).to_numpy(bool)
        bad = ~empty & ~ok
        typed = pd.Series(pd.arrays.BooleanArray((text == "true").to_numpy(bool), ~ok))
        return _finish(typed, col, bad, empty), bad
    pattern = {"int": _INT_RE, "float": _FLOAT_RE, "date": _DATE_RE}[col.dtype]
    ok = text.str.fullmatch(pattern).to_numpy(bool)
    candidates = text.where(ok)
    if col.dtype == "date":
        typed, real = _parse_dates(pa.array(candidates))
        ok = ok & real
    else:
        arrow = pc.cast(pa.array(candidates), pa.int64() if col.dtype == "int" else pa.float64())
        if col.dtype == "int":
            typed = pd.Series(arrow.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        else:
            typed = pd.Series(arrow.to_numpy(zero_copy_only=False), dtype="float64")
    bad = ~empty & ~ok
    return _finish(typed, col, bad, empty), bad


def _parse_dates(text: pa.Array) -> tuple[pd.Series, np.ndarray]:
    """YYYY-MM-DD strings to datetime64[ns], and which were real dates in the supported range.

    strptime rolls 2023-02-30 over to March, so the day is compared with the text's own."""
    stamps = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    day = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int64())
    same_day = pc.equal(pc.day(stamps), day).fill_null(False).to_numpy(zero_copy_only=False)
    values = stamps.to_numpy(zero_copy_only=False)
    real = np.asarray(same_day, bool) & (values >= _MIN_DATE) & (values <= _MAX_DATE)
    return pd.Series(np.where(real, values, np.datetime64("NaT")).astype("datetime64[ns]")), real


def _parse_arrow(
    column: pa.ChunkedArray, col: ColumnSpec
) -> tuple[pd.Series, np.ndarray, str | None]:
    """Typed column from a Parquet column: text goes through the text parser, native types
    must match the contract (an identifier stored as a number is refused: it lost its zeros)."""
    kind = column.type
    n = len(column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pd.Series(column.to_pandas(), dtype="str")
        typed, bad = _parse_text(text.fillna(""), col)
        return typed, bad, None
    none = np.zeros(n, bool)
    if col.dtype in ("str", "enum"):
        return None, none, f"stored as {kind}; this column must be stored as text (string)"
    empty = np.asarray(column.is_null().to_numpy(zero_copy_only=False), bool)
    if col.dtype == "bool" and pa.types.is_boolean(kind):
        typed = pd.Series(column.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        return _finish(typed, col, none, empty), none, None
    if col.dtype in ("int", "float") and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if col.dtype == "float":
            return _finish(pd.Series(values, dtype="float64"), col, none, empty), none, None
        if pa.types.is_integer(kind):
            typed = column.cast(pa.int64()).to_pandas(
                types_mapper={pa.int64(): pd.Int64Dtype()}.get
            )
            return _finish(pd.Series(typed), col, none, empty), none, None
        # a float column is accepted for whole numbers only: 3.0 is 3, 3.5 is an error
        bad = ~empty & ~(np.isfinite(values) & (np.mod(values, 1) == 0))
        typed = pd.Series(pd.array(np.where(bad | empty, np.nan, values), dtype="Int64"))
        return _finish(typed, col, bad, empty), bad, None
    if col.dtype == "date" and (pa.types.is_date(kind) or pa.types.is_timestamp(kind)):
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            return None, none, f"stored as {kind}; dates must not carry a time zone"
        stamps = pd.Series(column.cast(pa.timestamp("us")).to_pandas()).astype("datetime64[us]")
        ok = (stamps == stamps.dt.normalize()) & (stamps >= _MIN_DATE) & (stamps <= _MAX_DATE)
        bad = ~empty & ~ok.to_numpy(bool)
        typed = stamps.where(~bad).astype("datetime64[ns]")
        return _finish(typed, col, bad, empty), bad, None
    return None, none, f"stored as {kind}; expected {col.dtype}"


def _finish(typed: pd.Series, col: ColumnSpec, bad: np.ndarray, empty: np.ndarray) -> pd.Series:
    """Give the column its typed-form dtype; keep a nullable one while cells are missing."""
    typed = typed.reset_index(drop=True)
    if col.dtype in ("int", "bool") and not col.optional:
        if not (bad.any() or empty.any()):
            return typed.astype(dtype_of(col))
        return typed.astype(typed_dtype(col, nullable=True))
    return typed.astype(dtype_of(col))


def _to_text(values: pd.Series, col: ColumnSpec) -> pd.Series:
    """Cells of one column in the contract's CSV text form ("" for missing)."""
    missing = values.isna().to_numpy(bool)
    if col.dtype == "date":
        text = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
    elif col.dtype == "bool":
        text = values.map({True: "true", False: "false"})
    elif col.dtype == "int":
        text = values.astype("Int64").astype("str")
    elif col.dtype == "float":
        text = values.astype("float64").astype("str")  # shortest repr that round-trips
    else:
        text = values.astype("str")
    return text.astype(object).where(~missing, "")


def _unknown_files(folder: Path) -> list[Violation]:
    """Files that look like tables but are not in the contract (often a misspelt name)."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.suffix in (".csv", ".parquet") and path.stem not in TABLES:
            message = f"{path.name} is not a table of the contract and is ignored"
            found.append(Violation(path.name, None, None, None, "unknown_file", message))
    return found
