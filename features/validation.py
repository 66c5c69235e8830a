"""Every rule of the data contract, checked vectorised on typed tables (pure: no file I/O).

Severity is a property of the rule: the contract's rules give errors; a few plausibility
checks the contract does not forbid (an end date before the start date, a score on an
enrollment that was not completed) give warnings, because data the contract accepts must not
be rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from features import columns as c
from features.contract import TABLES, ColumnSpec, TableSpec, null_column
from features.report import WARNING_RULES, TableSource, ValidationReport, Violation

_MAX_NAMED = 10  # members of a cycle named in one message


def validate_tables(
    tables: Mapping[str, pd.DataFrame],
    sources: Mapping[str, TableSource] | None = None,
    found: Iterable[Violation] = (),
) -> ValidationReport:
    """Check typed tables against the contract.

    `sources` says where rows came from (default: the lines the frames would have as CSV);
    `found` are violations already met while reading. Works on in-memory tables too, e.g. a
    generator's output before it is written.
    """
    violations = list(found)
    tables = {
        name: frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index(drop=True)
        for name, frame in tables.items()
    }
    srcs: dict[str, TableSource] = dict(sources or {})
    for name, spec in TABLES.items():
        if name not in tables:
            if not spec.optional:
                message = "required table is missing"
                violations.append(
                    Violation(f"{name}.csv", None, None, None, "missing_file", message)
                )
            srcs[name] = TableSource(f"{name}.csv", np.zeros(0, np.int64), usable=False)
            continue
        if name not in srcs:
            source = TableSource.in_memory(name, len(tables[name]))
            tables[name], srcs[name], problems = _check_in_memory_columns(
                tables[name], spec, source
            )
            violations += problems
    checks = _Checks(tables, srcs)
    violations += checks.run()
    violations = [_mark_parquet(v) for v in violations]
    return ValidationReport(
        errors=[v for v in violations if v.rule not in WARNING_RULES],
        warnings=[v for v in violations if v.rule in WARNING_RULES],
        row_counts={n: len(tables[n]) for n in TABLES if n in tables and srcs[n].usable},
        tables=tables,
    )


def _mark_parquet(v: Violation) -> Violation:
    if v.line is not None and v.file.endswith(".parquet"):
        return replace(v, message=f"{v.message} (Parquet row {v.line}, counted from 1)")
    return v


def _check_in_memory_columns(
    frame: pd.DataFrame, spec: TableSpec, source: TableSource
) -> tuple[pd.DataFrame, TableSource, list[Violation]]:
    """Missing columns and wrong dtypes of a frame that did not come through the reader.

    Such a column is reported once and replaced by missing values for the other checks."""
    found, reported, stand_ins = [], {}, {}
    for col in spec.columns:
        if col.name not in frame.columns:
            message = f"column {col.name!r} is missing ({col.rule})"
            found.append(Violation(source.file, 1, col.name, None, "missing_column", message))
        elif not _dtype_ok(frame[col.name], col):
            message = f"column has dtype {frame[col.name].dtype}, expected {col.dtype}"
            found.append(Violation(source.file, None, col.name, None, "type", message))
        else:
            continue
        reported[col.name] = np.ones(len(frame), bool)
        stand_ins[col.name] = null_column(col, len(frame))
    if stand_ins:
        frame = frame.assign(**stand_ins)
    return frame, replace(source, reported=reported), found


def _dtype_ok(series: pd.Series, col: ColumnSpec) -> bool:
    types = pd.api.types
    if col.dtype in ("str", "enum"):
        return types.is_string_dtype(series) or series.isna().all()
    if col.dtype == "int":
        return types.is_integer_dtype(series.dtype)
    if col.dtype == "float":
        return types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype)
    if col.dtype == "date":
        return types.is_datetime64_dtype(series.dtype)
    return types.is_bool_dtype(series.dtype)


def _isin(values: pd.Series, allowed) -> np.ndarray:
    """Membership as a numpy mask; pyarrow's hash lookup for text (pandas converts every
    string to a Python object first, seconds for millions of rows)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arrow = pa.array(values)
        allowed = pa.array(pd.unique(pd.Series(allowed, dtype="str").dropna()), type=arrow.type)
        hits = pc.is_in(arrow, value_set=allowed, skip_nulls=True)
        return np.asarray(hits.fill_null(False).to_numpy(zero_copy_only=False), bool)
    return values.isin(allowed).to_numpy(bool)


def _position_in(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value among unique `keys` (-1 when absent), like Index.get_indexer."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        arrow = pa.array(values)
        found = pc.index_in(arrow, value_set=pa.array(keys, type=arrow.type), skip_nulls=True)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return pd.Index(keys).get_indexer(values)


def _text(values: pd.Series) -> list[str | None]:
    """Cells as the text a person would have typed, for the `value` of a violation."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = values.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_bool_dtype(values.dtype):
        values = values.map({True: "true", False: "false"})
    elif pd.api.types.is_float_dtype(values.dtype):
        return [None if pd.isna(v) else f"{v:.15g}" for v in values]
    return [None if pd.isna(v) else str(v) for v in values]


class _Checks:
    """The content rules, run over all tables; each method returns its violations."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource]):
        self.tables = tables
        self.sources = sources

    def run(self) -> list[Violation]:
        found: list[Violation] = []
        for name, spec in TABLES.items():
            if not self._usable(name):
                continue
            for col in spec.columns:
                found += self._column_rules(name, col)
            found += self._unique_key(name, spec)
            found += self._references(name, spec)
        for check in (
            self._nip,
            self._supervisor_not_self,
            self._unit_cycles,
            self._skp_matrix,
            self._min_below_target,
            self._prerequisite_cycles,
            self._mentee_not_mentor,
            self._enrollment_warnings,
            self._end_after_start,
            self._assessed_before_birth,
        ):
            found += check()
        return found

    # -- helpers -------------------------------------------------------------------------

    def _usable(self, table: str, *cols: str) -> bool:
        source = self.sources.get(table)
        if source is None or not source.usable or table not in self.tables:
            return False
        frame = self.tables[table]
        return all(col in frame.columns and not self._reported(table, col).all() for col in cols)

    def _reported(self, table: str, col: str) -> np.ndarray:
        reported = self.sources[table].reported.get(col)
        return reported if reported is not None else np.zeros(len(self.tables[table]), bool)

    def _present(self, table: str, col: str) -> np.ndarray:
        """Cells holding a value (not missing, not already reported)."""
        return self.tables[table][col].notna().to_numpy(bool) & ~self._reported(table, col)

    def _violations(
        self,
        table: str,
        mask: np.ndarray,
        column: str | None,
        rule: str,
        message: str | Callable[[np.ndarray], Sequence[str]],
        value_column: str | None = None,
    ) -> list[Violation]:
        """One violation per row in `mask`; `message` is a text or a function of the rows."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return []
        source, frame = self.sources[table], self.tables[table]
        shown_col = value_column or column
        shown = _text(frame[shown_col].iloc[rows]) if shown_col else [None] * rows.size
        texts = [message] * rows.size if isinstance(message, str) else message(rows)
        return [
            Violation(source.file, int(source.lines[r]), column, v, rule, m)
            for r, v, m in zip(rows, shown, texts, strict=True)
        ]

    # -- column rules ----------------------------------------------------------------------

    def _column_rules(self, table: str, col: ColumnSpec) -> list[Violation]:
        frame = self.tables[table]
        if col.name not in frame.columns:
            return []
        series = frame[col.name]
        reported = self._reported(table, col.name)
        found = []
        if not col.optional:
            missing = series.isna().to_numpy(bool) & ~reported
            found += self._violations(table, missing, col.name, "required", f"empty ({col.rule})")
        present = series.notna().to_numpy(bool) & ~reported
        if col.dtype == "enum":
            bad = present & ~_isin(series, col.values)
            message = "must be one of " + ", ".join(col.values)
            found += self._violations(table, bad, col.name, "enum", message)
        if col.min is not None or col.max is not None:
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(float, na_value=np.nan)
            low = -np.inf if col.min is None else col.min
            high = np.inf if col.max is None else col.max
            with np.errstate(invalid="ignore"):
                bad = present & ((numbers < low) | (numbers > high))
            message = f"must be in {low:g}..{high:g}"
            found += self._violations(table, bad, col.name, "range", message)
        return found

    def _unique_key(self, table: str, spec: TableSpec) -> list[Violation]:
        if not spec.key or not self._usable(table, *spec.key):
            return []
        frame = self.tables[table]
        complete = np.logical_and.reduce([self._present(table, k) for k in spec.key])
        keyed = frame.loc[complete, list(spec.key)]
        duplicated = keyed.duplicated(keep="first").to_numpy(bool)
        if not duplicated.any():
            return []
        rows = np.flatnonzero(complete)
        lines = pd.Series(self.sources[table].lines[rows], index=keyed.index)
        first = lines.groupby([keyed[k] for k in spec.key], sort=False).transform("min")
        hits = rows[duplicated]
        first_line = dict(zip(hits, first.to_numpy()[duplicated], strict=True))
        mask = np.zeros(len(frame), bool)
        mask[hits] = True
        label = ", ".join(spec.key)
        unit = "row" if self.sources[table].file.endswith(".parquet") else "line"
        found = self._violations(
            table,
            mask,
            "+".join(spec.key),
            "unique",
            lambda hit: [f"duplicate ({label}); first on {unit} {first_line[r]}" for r in hit],
            value_column=spec.key[0],
        )
        if len(spec.key) > 1:  # show the whole key: "P01 / M01"
            parts = [_text(frame[k].iloc[hits]) for k in spec.key]
            found = [replace(v, value=" / ".join(p)) for v, *p in zip(found, *parts, strict=True)]
        return found

    def _references(self, table: str, spec: TableSpec) -> list[Violation]:
        found = []
        for col in spec.columns:
            if col.references is None:
                continue
            target, target_col = col.references
            if not self._usable(target, target_col) or col.name not in self.tables[table].columns:
                continue
            known = pd.unique(self.tables[target][target_col].dropna())
            values = self.tables[table][col.name]
            bad = self._present(table, col.name) & ~_isin(values, known)
            message = f"not an existing {target}.{target_col}"
            found += self._violations(table, bad, col.name, "reference", message)
        return found

    # -- cross-column rules ----------------------------------------------------------------

    def _nip(self) -> list[Violation]:
        if not self._usable(c.EMPLOYEES, c.NIP):
            return []
        emp = self.tables[c.EMPLOYEES]
        nip = emp[c.NIP].astype("str")
        present = self._present(c.EMPLOYEES, c.NIP)
        digits = present & nip.str.fullmatch(r"\d{18}").to_numpy(bool)
        safe = nip.where(digits, "000000000000000000")
        born = pd.to_datetime(safe.str.slice(0, 8), format="%Y%m%d", errors="coerce")
        tmt = pd.to_datetime(safe.str.slice(8, 14) + "01", format="%Y%m%d", errors="coerce")
        gender_digit = safe.str.slice(14, 15)
        born_ok = digits & born.notna().to_numpy(bool)
        tmt_ok = digits & tmt.notna().to_numpy(bool)
        gender_ok = digits & _isin(gender_digit, ["1", "2"])
        bad_format = present & ~(born_ok & tmt_ok & gender_ok)

        def format_message(rows: np.ndarray) -> list[str]:
            out = []
            for r in rows:
                if not digits[r]:
                    out.append(f"must be exactly 18 digits (has {len(nip.iloc[r])} characters)")
                    continue
                parts = []
                if not born_ok[r]:
                    parts.append(f"digits 1-8 ({nip.iloc[r][:8]}) are not a real date YYYYMMDD")
                if not tmt_ok[r]:
                    parts.append(f"digits 9-14 ({nip.iloc[r][8:14]}) are not a year-month YYYYMM")
                if not gender_ok[r]:
                    parts.append(f"digit 15 ({nip.iloc[r][14]}) must be 1 (L) or 2 (P)")
                out.append("; ".join(parts))
            return out

        found = self._violations(c.EMPLOYEES, bad_format, c.NIP, "nip_format", format_message)
        birth = emp[c.BIRTH_DATE]
        bad = born_ok & birth.notna().to_numpy(bool) & (birth != born).to_numpy(bool)
        found += self._violations(
            c.EMPLOYEES,
            bad,
            c.BIRTH_DATE,
            "nip_birth_date",
            lambda rows: [f"differs from NIP digits 1-8 ({nip.iloc[r][:8]})" for r in rows],
        )
        start = emp[c.TMT_CPNS]
        same_month = (start.dt.year == tmt.dt.year) & (start.dt.month == tmt.dt.month)
        bad = tmt_ok & start.notna().to_numpy(bool) & ~same_month.to_numpy(bool)
        found += self._violations(
            c.EMPLOYEES,
            bad,
            c.TMT_CPNS,
            "nip_tmt_cpns",
            lambda rows: [
                f"year-month differs from NIP digits 9-14 ({nip.iloc[r][8:14]})" for r in rows
            ],
        )
        expected = gender_digit.map({"1": "L", "2": "P"})
        gender = emp[c.GENDER]
        bad = (
            gender_ok
            & self._present(c.EMPLOYEES, c.GENDER)
            & _isin(gender, c.GENDERS)
            & (gender != expected).to_numpy(bool)
        )
        found += self._violations(
            c.EMPLOYEES,
            bad,
            c.GENDER,
            "nip_gender",
            lambda rows: [
                f"NIP digit 15 is {gender_digit.iloc[r]}, which means {expected.iloc[r]}"
                for r in rows
            ],
        )
        return found

    def _supervisor_not_self(self) -> list[Violation]:
        if not self._usable(c.EMPLOYEES, c.NIP, c.SUPERVISOR_NIP):
            return []
        emp = self.tables[c.EMPLOYEES]
        same = self._present(c.EMPLOYEES, c.SUPERVISOR_NIP) & (
            emp[c.SUPERVISOR_NIP] == emp[c.NIP]
        ).to_numpy(bool)
        message = "an employee cannot be their own supervisor"
        return self._violations(c.EMPLOYEES, same, c.SUPERVISOR_NIP, "supervisor_not_self", message)

    def _unit_cycles(self) -> list[Violation]:
        if not self._usable(c.UNITS, c.UNIT_ID, c.PARENT_UNIT_ID):
            return []
        units = self.tables[c.UNITS]
        on_cycle, members = _rows_on_cycles(units[c.UNIT_ID], units[c.PARENT_UNIT_ID])
        return self._violations(
            c.UNITS,
            on_cycle,
            c.PARENT_UNIT_ID,
            "unit_hierarchy_acyclic",
            lambda rows: [f"unit is on a parent cycle: {members[r]}" for r in rows],
            value_column=c.UNIT_ID,
        )

    def _skp_matrix(self) -> list[Violation]:
        table = c.PERFORMANCE_REVIEWS
        if not self._usable(table, c.WORK_RESULT, c.WORK_BEHAVIOR, c.RATING):
            return []
        reviews = self.tables[table]
        result, behavior = reviews[c.WORK_RESULT], reviews[c.WORK_BEHAVIOR]
        expected = (result + "|" + behavior).map(
            {f"{r}|{b}": rating for (r, b), rating in c.SKP_MATRIX.items()}
        )
        bad = (
            expected.notna().to_numpy(bool)
            & self._present(table, c.RATING)
            & _isin(reviews[c.RATING], c.RATING_VALUES)
            & (reviews[c.RATING] != expected).to_numpy(bool)
        )
        return self._violations(
            table,
            bad,
            c.RATING,
            "skp_rating_matrix",
            lambda rows: [
                f"work_result {result.iloc[r]} x work_behavior {behavior.iloc[r]} "
                f"gives {expected.iloc[r]}"
                for r in rows
            ],
        )

    def _min_below_target(self) -> list[Violation]:
        table = c.COURSE_COMPETENCIES
        if not self._usable(table, c.MIN_LEVEL, c.TARGET_LEVEL):
            return []
        frame = self.tables[table]
        both = self._present(table, c.MIN_LEVEL) & self._present(table, c.TARGET_LEVEL)
        low = frame[c.MIN_LEVEL].to_numpy(float, na_value=np.nan)
        high = frame[c.TARGET_LEVEL].to_numpy(float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = both & (low >= high)
        return self._violations(
            table,
            bad,
            c.MIN_LEVEL,
            "min_below_target",
            lambda rows: [f"min_level must be below target_level {high[r]:g}" for r in rows],
        )

    def _prerequisite_cycles(self) -> list[Violation]:
        table = c.COURSE_PREREQUISITES
        if not self._usable(table, c.COURSE_ID, c.PREREQUISITE_ID):
            return []
        frame = self.tables[table]
        on_cycle, members = _rows_on_cycles(frame[c.COURSE_ID], frame[c.PREREQUISITE_ID])
        # one line per course on a cycle: its first prerequisite row inside the cycle
        first = ~frame[c.COURSE_ID].where(on_cycle).duplicated(keep="first").to_numpy(bool)
        return self._violations(
            table,
            on_cycle & first,
            c.COURSE_ID,
            "prerequisites_acyclic",
            lambda rows: [f"course is on a prerequisite cycle: {members[r]}" for r in rows],
        )

    def _mentee_not_mentor(self) -> list[Violation]:
        table = c.MENTORSHIPS
        if not self._usable(table, c.MENTOR_NIP, c.MENTEE_NIP):
            return []
        frame = self.tables[table]
        same = self._present(table, c.MENTEE_NIP) & (
            frame[c.MENTEE_NIP] == frame[c.MENTOR_NIP]
        ).to_numpy(bool)
        message = "an employee cannot mentor themselves"
        return self._violations(table, same, c.MENTEE_NIP, "mentee_not_mentor", message)

    # -- warnings: plausibility the contract does not require -------------------------------

    def _enrollment_warnings(self) -> list[Violation]:
        table = c.ENROLLMENTS
        if not self._usable(table, c.STATUS):
            return []
        frame = self.tables[table]
        status = frame[c.STATUS]
        has_end = self._present(table, c.END_DATE)
        ongoing = (status == "ongoing").to_numpy(bool)
        completed = (status == "completed").to_numpy(bool)
        other = self._present(table, c.STATUS) & _isin(status, c.ENROLLMENT_STATUSES)
        other &= ~completed
        no_end = ~has_end & ~self._reported(table, c.END_DATE)
        return (
            self._violations(
                table,
                ongoing & has_end,
                c.END_DATE,
                "ongoing_with_end_date",
                "status is ongoing but an end_date is set",
            )
            + self._violations(
                table,
                completed & no_end,
                c.END_DATE,
                "completed_without_end_date",
                "status is completed but end_date is empty",
                value_column=c.STATUS,
            )
            + self._violations(
                table,
                other & self._present(table, c.SCORE),
                c.SCORE,
                "score_without_completion",
                lambda rows: [f"a score on a {status.iloc[r]} enrollment" for r in rows],
            )
        )

    def _end_after_start(self) -> list[Violation]:
        found = []
        for table in (c.ENROLLMENTS, c.MENTORSHIPS):
            if not self._usable(table, c.START_DATE, c.END_DATE):
                continue
            frame = self.tables[table]
            both = self._present(table, c.START_DATE) & self._present(table, c.END_DATE)
            start = frame[c.START_DATE]
            bad = both & (frame[c.END_DATE] < start).to_numpy(bool)
            found += self._violations(
                table,
                bad,
                c.END_DATE,
                "end_after_start",
                lambda rows, start=start: [  # type: ignore[misc]
                    f"end_date is before start_date {start.iloc[r]:%Y-%m-%d}" for r in rows
                ],
            )
        return found

    def _assessed_before_birth(self) -> list[Violation]:
        if not (
            self._usable(c.ASSESSMENTS, c.NIP, c.ASSESSED_ON)
            and self._usable(c.EMPLOYEES, c.NIP, c.BIRTH_DATE)
        ):
            return []
        emp = self.tables[c.EMPLOYEES].drop_duplicates(c.NIP)
        emp = emp[emp[c.NIP].notna()]
        assessments = self.tables[c.ASSESSMENTS]
        where = _position_in(assessments[c.NIP], emp[c.NIP])
        birth = emp[c.BIRTH_DATE].to_numpy("datetime64[ns]")
        born = np.where(where >= 0, birth[np.maximum(where, 0)], np.datetime64("NaT"))
        assessed = assessments[c.ASSESSED_ON].to_numpy("datetime64[ns]")
        bad = (where >= 0) & ~np.isnat(born) & ~np.isnat(assessed) & (assessed < born)
        return self._violations(
            c.ASSESSMENTS,
            bad,
            c.ASSESSED_ON,
            "assessed_before_birth",
            lambda rows: [
                f"assessed before the employee's birth_date {pd.Timestamp(born[r]):%Y-%m-%d}"
                for r in rows
            ],
        )


def _rows_on_cycles(src: pd.Series, dst: pd.Series) -> tuple[np.ndarray, dict[int, str]]:
    """Rows whose edge src -> dst lies on a cycle, and the cycle's members per such row.

    Cycles are the strongly connected components with more than one node, plus self-loops
    (scipy, iterative: no recursion depth limit on long chains).
    """
    edge = (src.notna() & dst.notna()).to_numpy(bool)
    codes, names = pd.factorize(pd.concat([src[edge], dst[edge]]), sort=True)
    n_edges, n_nodes = int(edge.sum()), len(names)
    on_cycle = np.zeros(len(src), bool)
    if n_edges == 0:
        return on_cycle, {}
    a, b = codes[:n_edges], codes[n_edges:]
    graph = coo_matrix((np.ones(n_edges), (a, b)), shape=(n_nodes, n_nodes)).tocsr()
    _, component = connected_components(graph, directed=True, connection="strong")
    size = np.bincount(component, minlength=n_nodes)
    inside = (component[a] == component[b]) & ((size[component[a]] > 1) | (a == b))
    rows = np.flatnonzero(edge)[inside]
    on_cycle[rows] = True
    members: dict[int, str] = {}
    named: dict[int, str] = {}
    for row, comp in zip(rows, component[a[inside]], strict=True):
        if comp not in named:
            ids = [str(x) for x in names[np.flatnonzero(component == comp)]]
            more = f" and {len(ids) - _MAX_NAMED} more" if len(ids) > _MAX_NAMED else ""
            named[comp] = ", ".join(ids[:_MAX_NAMED]) + more
        members[int(row)] = named[comp]
    return on_cycle, members
