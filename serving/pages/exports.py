"""Tables as downloads: CSV (UTF-8 with BOM, so Excel opens it right) and Excel (.xlsx).

Cells are guarded against formula injection: a text starting with `=`, `+`, `-`, `@` or a
control character is written with a leading apostrophe, so a name or a manager's comment can
never run as a formula when the training unit opens the file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: What makes a spreadsheet read a cell as a formula (fullwidth forms included), once any
#: leading whitespace is skipped, as spreadsheets do when they import CSV.
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL_START = ("\t", "\r", "\n")
_LEADING_SPACE = " \t\r\n\x0b\x0c\xa0\u2007\u202f\u3000"
_SHEET_NAME_MAX = 31


def safe_text(value: Any) -> Any:
    """`value` with a leading apostrophe if it is text a spreadsheet would read as a formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(_CONTROL_START) or value.lstrip(_LEADING_SPACE).startswith(_FORMULA_START):
        return "'" + value
    return value


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype(object).map(safe_text)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV, header row, comma-separated, UTF-8 with a byte-order mark."""
    return _clean(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return safe_text(value)


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """One worksheet per frame (bold header, frozen first row, widths fitted to the text)."""
    book = Workbook()
    book.remove(book.active)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=name[:_SHEET_NAME_MAX])
        sheet.append([str(col) for col in frame.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
        for j, col in enumerate(frame.columns, start=1):
            values = [str(col)] + [str(v) for v in frame[col].head(500).tolist()]
            width = min(max(len(v) for v in values) + 2, 60)
            sheet.column_dimensions[get_column_letter(j)].width = width
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def download_headers(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
