"""What a dataset check finds: violations (file, line, column, value, rule), the report, its text.

Shared by the reader (`features.io`, which meets file and cell problems) and the rule checks
(`features.validation`), so neither has to import the other for its vocabulary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import CROSS_RULES


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: where (file, line, column), what (value) and which rule."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str
    message: str


@dataclass
class ValidationReport:
    """Result of checking a dataset: errors, warnings, row counts and the typed tables."""

    errors: list[Violation]
    warnings: list[Violation]
    row_counts: dict[str, int]
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class TableSource:
    """Where a typed table came from, so a violation can name its file and line.

    `lines` holds, per row, the physical CSV line (header = line 1) or the 1-based Parquet row.
    `reported` marks cells the reader already reported (unparsable, or in a missing column),
    so they are not reported twice. An unusable table (missing, unreadable) is not checked and
    no reference into it is checked either.
    """

    file: str
    lines: np.ndarray
    reported: Mapping[str, np.ndarray] = field(default_factory=dict)
    usable: bool = True

    @classmethod
    def in_memory(cls, table: str, n_rows: int) -> TableSource:
        """Lines a frame would have once written as `<table>.csv`."""
        return cls(f"{table}.csv", np.arange(2, n_rows + 2))


#: Text of every rule id, for reports and docs. Warnings are the ids in WARNING_RULES.
RULES: dict[str, str] = {
    "missing_file": "a required file is missing",
    "ambiguous_file": "a table exists both as CSV and as Parquet",
    "unknown_file": "a CSV/Parquet file that is not a table of the contract (ignored)",
    "encoding": "the file is not UTF-8 text",
    "csv_format": "the CSV structure is broken (field count, quoting, empty file)",
    "parquet_format": "the Parquet file cannot be read",
    "missing_column": "a required column is missing",
    "duplicate_column": "a column name appears twice in the header",
    "extra_column": "an unknown column (ignored)",
    "type": "the value does not have the column's type",
    "required": "a required value is empty",
    "enum": "the value is not one of the allowed values",
    "range": "the value is outside the allowed range",
    "unique": "the key appears on more than one row",
    "reference": "the value does not exist in the referenced table",
    **CROSS_RULES,
    "ongoing_with_end_date": "an ongoing enrollment already has an end_date",
    "completed_without_end_date": "a completed enrollment has no end_date",
    "score_without_completion": "a score on an enrollment that was not completed",
    "assessed_before_birth": "an assessment dated before the employee's birth_date",
}
WARNING_RULES = frozenset(
    {
        "unknown_file",
        "extra_column",
        "end_after_start",
        "ongoing_with_end_date",
        "completed_without_end_date",
        "score_without_completion",
        "assessed_before_birth",
    }
)


def format_report(report: ValidationReport, max_rows: int = 50) -> str:
    """Plain-text report: verdict, row counts, counts per rule, then the first violations."""
    out = [
        f"Dataset check: {len(report.errors)} error(s), {len(report.warnings)} warning(s)",
        "Rows: " + ", ".join(f"{name} {n:,}" for name, n in report.row_counts.items()),
    ]
    for title, items in (("Errors", report.errors), ("Warnings", report.warnings)):
        if not items:
            continue
        out += ["", f"{title} by rule:"]
        for rule, n in sorted(Counter(v.rule for v in items).items(), key=lambda kv: -kv[1]):
            out.append(f"  {rule:<28} {n:>8,}  {RULES.get(rule, '')}")
        out += ["", f"{title}:"]
        out += ["  " + _format_violation(v) for v in items[:max_rows]]
        if len(items) > max_rows:
            out.append(f"  … and {len(items) - max_rows:,} more violations")
    out += ["", "Result: OK" if report.ok else "Result: FAILED (fix the errors above)"]
    return "\n".join(out)


def report_to_rows(report: ValidationReport) -> list[dict[str, object]]:
    """One dict per violation (errors first), for CSV or JSON export."""
    return [
        {
            "severity": severity,
            "file": v.file,
            "line": v.line,
            "column": v.column,
            "value": v.value,
            "rule": v.rule,
            "message": v.message,
        }
        for severity, items in (("error", report.errors), ("warning", report.warnings))
        for v in items
    ]


def _format_violation(v: Violation) -> str:
    where = v.file
    if v.line is not None:
        where += f" row {v.line}" if v.file.endswith(".parquet") else f" line {v.line}"
    if v.column is not None:
        where += f", column {v.column}"
    if v.value is not None:
        where += f", value {v.value!r}"
    return f"{where}: {v.message} (rule {v.rule})"
