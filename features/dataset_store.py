"""The dataset in a database: one table per contract table, a revision, an audit of ingests.

HR systems send rows as they change (a completion, an assessment, a transfer); the service and
`kompeten import` put them here through `DatasetStore.ingest`, which checks the batch *merged
with what is stored* by the same validator as `kompeten validate` (`features.validation`), so
a reference to an employee stored last week is fine and a broken row is refused with its file,
row, column and rule. A good batch is written in one transaction, upserted by the table's
natural key (a retried batch stores nothing twice; a changed row, e.g. an enrollment that went
from ongoing to completed, is updated), the revision goes up by one and an audit row says who
sent what. Readers load the typed tables (`tables()`) and notice changes by the revision.

Cells are kept in the contract's text form (ISO dates, `true`/`false`; NULL for an empty cell),
so the store reads back exactly as a folder would and compares rows exactly.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from features import columns as c
from features.contract import TABLES
from features.database import create_tables
from features.io import (
    empty_table,
    read_csv_bytes,
    read_tables,
    text_table,
    type_text_table,
    write_dataset,
)
from features.report import TableSource, ValidationReport, Violation
from features.validation import validate_tables

#: The key a row is matched by on ingest: the contract's key, or for the event tables the
#: columns that name one event (the same employee, course and start is the same enrollment).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    name: spec.key
    or {
        c.ENROLLMENTS: (c.NIP, c.COURSE_ID, c.START_DATE),
        c.ASSESSMENTS: (c.NIP, c.COMPETENCY_ID, c.ASSESSED_ON, c.METHOD),
        c.MENTORSHIPS: (c.MENTOR_NIP, c.MENTEE_NIP, c.COMPETENCY_ID, c.START_DATE),
    }[name]
    for name, spec in TABLES.items()
}
#: Most rows one ingest call takes (a bigger load is `kompeten import`).
MAX_BATCH_ROWS = 100_000

metadata = MetaData()
DATA_TABLES: dict[str, Table] = {
    name: Table(
        f"data_{name}",
        metadata,
        *(
            Column(
                col.name,
                String(64) if col.name in NATURAL_KEYS[name] else Text,
                primary_key=col.name in NATURAL_KEYS[name],
            )
            for col in spec.columns
        ),
    )
    for name, spec in TABLES.items()
}
REVISION = Table(
    "data_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=True),
)
INGESTS = Table(
    "data_ingests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sender", String(64), nullable=False),
    Column("source", String(200), nullable=False),
    Column("tables", Text, nullable=False),  # JSON: table -> [received, inserted, updated]
    Column("revision", Integer, nullable=False),
)


def revision_signature(revision: int) -> str:
    """How a serving state names the store revision it was built from."""
    return f"store:{revision}"


@dataclass(frozen=True)
class TableChange:
    """What one table of an accepted batch did to the store."""

    received: int
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.updated


@dataclass(frozen=True)
class IngestResult:
    """An accepted batch (`report.ok`) with what it changed, or the refused batch's report.

    `nips` are the employees whose rows the batch inserted or changed: their plans change.
    """

    report: ValidationReport
    revision: int
    changes: dict[str, TableChange] = field(default_factory=dict)
    nips: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def stored(self) -> int:
        return sum(ch.inserted + ch.updated for ch in self.changes.values())


@dataclass
class Batch:
    """One table's rows as read (typed), where they came from, and what reading found."""

    table: str
    frame: pd.DataFrame
    source: TableSource
    found: list[Violation]


def batch_from_csv(table: str, data: bytes, file: str | None = None) -> Batch:
    """An uploaded CSV, read exactly like a folder's file (lines as in the upload)."""
    frame, source, found = read_csv_bytes(data, file or f"{table}.csv", TABLES[table])
    return Batch(table, frame, source, found)


def batch_from_records(table: str, records: Sequence[Mapping[str, Any]]) -> Batch:
    """A JSON array of objects, read through the CSV reader so every cell gets the same
    checks; violations name `<table>.json` and the 1-based item (`line`). An optional field
    may be left out of an object (it is empty); a required one may not."""
    names: list[str] = []
    for record in records:
        names += [k for k in record if k not in names]
    names += [col.name for col in TABLES[table].columns if col.optional and col.name not in names]
    text = io.StringIO()
    pd.DataFrame(
        [[_cell_text(record.get(name)) for name in names] for record in records],
        columns=names,
        dtype=object,
    ).to_csv(text, index=False, lineterminator="\n")
    file = f"{table}.json"
    frame, source, found = read_csv_bytes(text.getvalue().encode("utf-8"), file, TABLES[table])
    found = [v if v.line is None else replace(v, line=(v.line - 1) or None) for v in found]
    source = replace(source, lines=np.asarray(source.lines) - 1)
    return Batch(table, frame, source, found)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value)  # a list or object where a cell belongs: refused by its type


class DatasetStore:
    """The dataset tables on one engine, with a per-process copy of the current revision."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._cached: tuple[int, dict[str, pd.DataFrame]] | None = None

    def create_schema(self) -> None:
        """Create missing tables and the revision row (tolerates workers starting together)."""
        create_tables(metadata, self.engine)
        with self.engine.connect() as conn:
            if conn.execute(select(REVISION.c.revision)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(REVISION).values(id=1, revision=0, changed_at=None))
        except IntegrityError:  # another worker inserted it first
            pass

    def revision(self) -> int:
        """0 until something was stored; then one more per accepted batch (cheap: one row)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(REVISION.c.revision).where(REVISION.c.id == 1)).scalar()
        return int(value or 0)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every contract table in the typed form, as of the current revision."""
        with self.engine.connect() as conn:
            return dict(self._current(conn)[1])

    def row_counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables().items()}

    def _current(self, conn: Connection) -> tuple[int, dict[str, pd.DataFrame]]:
        revision = int(
            conn.execute(select(REVISION.c.revision).where(REVISION.c.id == 1)).scalar() or 0
        )
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] == revision:
            return cached
        typed = {name: _read_typed(conn, name) for name in TABLES}
        with self._lock:
            self._cached = (revision, typed)
        return revision, typed

    def ingest(
        self, batches: Iterable[Batch], sender: str, source: str, replace_all: bool = False
    ) -> IngestResult:
        """Check `batches` merged with the store; store them in one transaction or not at all.

        `replace_all`: the batches are the whole new dataset (what is stored goes).
        """
        batches = list(batches)
        with self.engine.begin() as conn:
            # The first statement writes: it takes the store's write lock (SQLite) or the
            # revision row's lock (PostgreSQL) so concurrent ingests check in turn.
            conn.execute(update(REVISION).where(REVISION.c.id == 1).values(id=1))
            revision, current = self._current(conn)
            if replace_all:
                current = {name: empty_table(name) for name in TABLES}
            report, plans = check_batches(current, batches)
            if not report.ok:
                conn.rollback()
                return IngestResult(report, revision)
            if replace_all:
                for table in DATA_TABLES.values():
                    conn.execute(delete(table))
            changes = {name: _write(conn, name, plan) for name, plan in plans.items()}
            stored = replace_all or any(ch.inserted or ch.updated for ch in changes.values())
            new_revision = revision + 1 if stored else revision
            now = datetime.now(UTC)
            if stored:
                conn.execute(
                    update(REVISION)
                    .where(REVISION.c.id == 1)
                    .values(revision=new_revision, changed_at=now)
                )
            conn.execute(
                insert(INGESTS).values(
                    received_at=now,
                    sender=sender[:64],
                    source=source[:200],
                    tables=json.dumps(
                        {n: [ch.received, ch.inserted, ch.updated] for n, ch in changes.items()}
                    ),
                    revision=new_revision,
                )
            )
        nips = frozenset().union(*(plan.nips for plan in plans.values())) if plans else frozenset()
        if stored:  # the next read loads the new revision, in the store's own row order
            with self._lock:
                self._cached = None
        return IngestResult(report, new_revision, changes, nips)

    def import_folder(
        self, folder: Path, sender: str = "cli:import", replace_all: bool = False
    ) -> IngestResult:
        """Every table of a contract folder, as one batch (the folder's own files and lines);
        `replace_all`: the folder is the whole dataset (rows it lacks are deleted)."""
        read = read_tables(folder)
        batches = [
            Batch(name, read.tables[name], read.sources[name], [])
            for name in TABLES
            if read.sources[name].usable or not TABLES[name].optional
        ]
        batches[0].found = list(read.violations)
        return self.ingest(batches, sender, f"folder {Path(folder).name}", replace_all)

    def export_folder(self, folder: Path, fmt: str = "csv") -> list[Path]:
        """Write the stored dataset as a contract folder (what `kompeten train --data` reads)."""
        return write_dataset(self.tables(), folder, fmt)

    def ingests(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest audit rows, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(INGESTS).order_by(INGESTS.c.id.desc()).limit(limit))
            return [{**row._asdict(), "tables": json.loads(row.tables)} for row in rows.fetchall()]


@dataclass
class _Plan:
    """One table's rows to insert and update (text form), and the employees they concern."""

    inserts: pd.DataFrame
    updates: pd.DataFrame
    received: int
    nips: frozenset[str]


def _read_typed(conn: Connection, name: str) -> pd.DataFrame:
    spec = TABLES[name]
    table = DATA_TABLES[name]
    rows = conn.execute(select(*table.columns)).fetchall()
    raw = pd.DataFrame(rows, columns=list(spec.column_names), dtype=object).fillna("")
    # One row order on every worker and backend (collations differ): by the key's text.
    raw = raw.astype(str).sort_values(list(NATURAL_KEYS[name]), kind="stable", ignore_index=True)
    return type_text_table(raw, spec, f"stored {name}")


def check_batches(
    current: Mapping[str, pd.DataFrame], batches: Sequence[Batch]
) -> tuple[ValidationReport, dict[str, _Plan]]:
    """The contract check of the store `current` with `batches` upserted (pure: no I/O), and
    what each batch would write. Violations on rows already stored name no line."""
    merged, sources, found, plans = _merge(current, batches)
    report = validate_tables(merged, sources, found)
    report = replace(
        report,
        errors=[_stored_row(v) for v in report.errors],
        warnings=[_stored_row(v) for v in report.warnings],
    )
    return report, plans


def _keys(text: pd.DataFrame, name: str) -> pd.Series:
    """Each row's natural key as one string, from the table's text form."""
    return pd.Series(
        ["\x1f".join(row) for row in text[list(NATURAL_KEYS[name])].itertuples(index=False)],
        index=text.index,
        dtype=object,
    )


def _merge(
    current: Mapping[str, pd.DataFrame], batches: Sequence[Batch]
) -> tuple[dict[str, pd.DataFrame], dict[str, TableSource], list[Violation], dict[str, _Plan]]:
    """The store as it would be with `batches` upserted; where each row came from (stored rows
    have line -1); the readers' and the batch-duplicate violations; what to write."""
    merged = dict(current)
    sources = {
        name: TableSource(f"stored {name}", np.full(len(frame), -1))
        for name, frame in merged.items()
    }
    found: list[Violation] = []
    plans: dict[str, _Plan] = {}
    for batch in batches:
        name, spec = batch.table, TABLES[batch.table]
        found += batch.found
        if not batch.source.usable:
            sources[name] = batch.source
            merged[name] = batch.frame
            continue
        frame = batch.frame.reset_index(drop=True)
        text = text_table(frame, spec)
        keys = _keys(text, name)
        lines = np.asarray(batch.source.lines)
        for i in np.flatnonzero(keys.duplicated(keep="first").to_numpy()):
            found.append(
                Violation(
                    batch.source.file,
                    int(lines[i]),
                    ", ".join(NATURAL_KEYS[name]),
                    keys.iloc[i].replace("\x1f", ", "),
                    "unique",
                    "the row's key (" + ", ".join(NATURAL_KEYS[name]) + ") is on an earlier "
                    "row of this batch too",
                )
            )
        stored = current[name].reset_index(drop=True)
        stored_text = text_table(stored, spec)
        stored_keys = _keys(stored_text, name)
        kept = ~stored_keys.isin(set(keys)).to_numpy()
        merged[name] = pd.concat([stored[kept], frame], ignore_index=True)
        reported = {
            col: np.concatenate([np.zeros(int(kept.sum()), bool), mask])
            for col, mask in batch.source.reported.items()
        }
        sources[name] = TableSource(
            batch.source.file,
            np.concatenate([np.full(int(kept.sum()), -1), lines]),
            reported,
        )
        plans[name] = _plan(text, keys, stored_text, stored_keys)
    return merged, sources, found, plans


def _plan(
    text: pd.DataFrame, keys: pd.Series, stored_text: pd.DataFrame, stored_keys: pd.Series
) -> _Plan:
    """What the batch (text form, its keys) writes against the stored rows (text, keys)."""
    received = len(text)
    text = text[~keys.duplicated(keep="last").to_numpy()]
    keys = keys[text.index]
    old = stored_text.set_axis(stored_keys.to_numpy())
    exists = keys.isin(old.index).to_numpy()
    inserts = text[~exists]
    candidates = text[exists]
    if len(candidates):
        before = old.loc[keys[exists].to_numpy()].to_numpy()
        changed = (candidates.to_numpy() != before).any(axis=1)
        updates = candidates[changed]
    else:
        updates = candidates
    touched = pd.concat([inserts, updates])
    nips: set[str] = set()
    for col in (c.NIP, c.MENTEE_NIP, c.MENTOR_NIP):
        if col in touched:
            nips.update(v for v in touched[col].tolist() if v)
    return _Plan(inserts, updates, received, frozenset(nips))


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (v if v != "" else None) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _write(conn: Connection, name: str, plan: _Plan) -> TableChange:
    table = DATA_TABLES[name]
    if len(plan.inserts):
        conn.execute(insert(table), _rows(plan.inserts))
    if len(plan.updates):
        key = NATURAL_KEYS[name]
        values = [col.name for col in table.columns if col.name not in key]
        rows = [
            {**{f"k_{k}": row[k] for k in key}, **{v: row[v] for v in values}}
            for row in _rows(plan.updates)
        ]
        # executemany: the non-key parameters name the columns to set
        statement = update(table).where(and_(*(table.c[k] == bindparam(f"k_{k}") for k in key)))
        conn.execute(statement, rows)
    return TableChange(plan.received, len(plan.inserts), len(plan.updates))


def _stored_row(v: Violation) -> Violation:
    """A violation on a row that was already stored names the stored table, not a line."""
    if v.line is not None and v.line < 0:
        return replace(v, line=None)
    return v
