"""Write typed tables as a contract dataset folder (CSV or Parquet) in the contract's text form.

The text form is what HR tools and `features.io` expect: UTF-8, ISO dates, `true`/`false`,
integers without ".0", an empty cell for a missing value, identifiers kept as text. Tables go
through Arrow because its CSV writer formats a million rows in well under a second, where
`DataFrame.to_csv` takes several; a table whose text holds a comma, quote or newline (names
with degrees, course titles) is written by pandas instead, which quotes only those cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.contract import TABLES

FORMATS = ("csv", "parquet")

_ARROW_TYPES = {
    "str": pa.string(),
    "enum": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
_NEEDS_QUOTING = r'[",\r\n]'


def write_dataset(
    tables: Mapping[str, pd.DataFrame], folder: str | Path, fmt: str = "csv"
) -> dict[str, Path]:
    """Write the contract tables found in `tables` to `folder`; return table -> file path.

    Only the contract's columns are written, in the contract's order (extra columns are
    dropped, a missing one raises `KeyError`). Tables not in the contract are refused with
    `KeyError`: a dataset folder holds nothing else. A stale file of the other format for the
    same table is removed so the folder never holds two versions of one table.
    """
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise KeyError(f"not contract tables: {unknown}")
    _check_format(fmt)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in tables.items():
        spec = TABLES[name]
        missing = [col for col in spec.column_names if col not in frame.columns]
        if missing:
            raise KeyError(f"{name}: missing contract columns {missing}")
        arrow = _to_arrow(frame, {col.name: _ARROW_TYPES[col.dtype] for col in spec.columns})
        paths[name] = _write_table(arrow, out, name, fmt)
    return paths


def write_frames(
    frames: Mapping[str, pd.DataFrame], folder: str | Path, fmt: str = "csv"
) -> dict[str, Path]:
    """Write arbitrary frames (e.g. the demo's hidden truth) with the same text conventions.

    Column types are taken from the pandas dtypes: datetimes become ISO dates, booleans
    `true`/`false`, nullable integers stay integers.
    """
    _check_format(fmt)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in frames.items():
        types = {col: _arrow_type_of(frame[col]) for col in frame.columns}
        paths[name] = _write_table(_to_arrow(frame, types), out, name, fmt)
    return paths


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")


def _arrow_type_of(series: pd.Series) -> pa.DataType:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(dtype):
        return pa.int64()
    if pd.api.types.is_float_dtype(dtype):
        return pa.float64()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pa.date32()
    return pa.string()


def _to_arrow(frame: pd.DataFrame, types: Mapping[str, pa.DataType]) -> pa.Table:
    arrays = []
    for col, typ in types.items():
        series = frame[col]
        if typ == pa.date32():
            values = pd.to_datetime(series)
            arr = pa.array(values.to_numpy(dtype="datetime64[ms]"), mask=values.isna().to_numpy())
            arrays.append(arr.cast(pa.date32()))
        elif typ == pa.string():
            if not isinstance(series.dtype, pd.StringDtype):
                series = series.astype("str")
            arr = pa.array(series, from_pandas=True)  # zero-copy for Arrow-backed strings
            arrays.append(arr if arr.type == pa.string() else arr.cast(pa.string()))
        else:
            arrays.append(pa.array(series, type=typ, from_pandas=True))
    return pa.table(arrays, names=list(types))


def _write_table(table: pa.Table, folder: Path, name: str, fmt: str) -> Path:
    path = folder / f"{name}.{fmt}"
    other = folder / f"{name}.{'parquet' if fmt == 'csv' else 'csv'}"
    if other.exists():
        other.unlink()
    if fmt == "parquet":
        pq.write_table(table, path)
    elif _needs_quoting(table):
        text = pa.table(
            [pc.cast(col, pa.string()) for col in table.columns], names=table.column_names
        )
        text.to_pandas().to_csv(path, index=False, na_rep="", lineterminator="\n")
    else:
        # Arrow always quotes its header line, so the header is written by hand.
        with path.open("wb") as handle:
            handle.write((",".join(table.column_names) + "\n").encode("utf-8"))
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            pa_csv.write_csv(table, handle, options)
    return path


def _needs_quoting(table: pa.Table) -> bool:
    """True when a string cell holds a delimiter, quote or line break."""
    for col in table.columns:
        if pa.types.is_string(col.type) and len(col):
            hits = pc.match_substring_regex(col, _NEEDS_QUOTING)
            if pc.any(hits).as_py():
                return True
    return False
