"""The dataset store on SQLite and on a real PostgreSQL: import, ingest, refusal, idempotence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from tiny_dataset import KASI, STAFF_A, tiny_tables, write_tiny

from features import columns as c
from features.database import make_engine
from features.dataset_store import (
    DATA_TABLES,
    INGESTS,
    DatasetStore,
    batch_from_csv,
    batch_from_records,
)
from features.io import load_dataset


@pytest.fixture(name="store")
def store_fixture(database_url: str, tmp_path: Path):
    engine = make_engine(database_url)
    store = DatasetStore(engine)
    store.create_schema()
    result = store.import_folder(write_tiny(tmp_path / "tiny"))
    assert result.ok, result.report.errors
    yield store
    engine.dispose()


def _counts(store: DatasetStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for name, t in {**DATA_TABLES, "audit": INGESTS}.items()
        }


def test_import_reads_back_as_the_folder(store: DatasetStore, tmp_path: Path):
    assert store.revision() == 1
    stored = store.tables()
    folder = load_dataset(write_tiny(tmp_path / "again"))
    for name, frame in folder.items():
        key = list(stored[name].columns)
        left = stored[name].sort_values(key, ignore_index=True)
        right = frame.sort_values(key, ignore_index=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=True)
    out = store.export_folder(tmp_path / "export")
    assert {p.stem for p in out} == set(folder)
    assert load_dataset(tmp_path / "export")[c.EMPLOYEES].shape == folder[c.EMPLOYEES].shape


def test_completion_updates_the_ongoing_enrollment_and_a_retry_stores_nothing(store):
    completion = {
        "nip": STAFF_A,
        "course_id": "C01",
        "start_date": "2024-03-01",
        "end_date": "2024-03-20",
        "status": "completed",
        "score": 81.5,
    }
    first = store.ingest([batch_from_records(c.ENROLLMENTS, [completion])], "test", "api")
    assert first.ok and first.changes[c.ENROLLMENTS].updated == 1
    assert first.nips == {STAFF_A} and first.revision == 2
    enrollments = store.tables()[c.ENROLLMENTS]
    row = enrollments[(enrollments[c.NIP] == STAFF_A) & (enrollments[c.COURSE_ID] == "C01")]
    assert row[c.STATUS].tolist() == ["completed"] and row[c.SCORE].tolist() == [81.5]
    before = _counts(store)
    again = store.ingest([batch_from_records(c.ENROLLMENTS, [completion])], "test", "api")
    assert again.ok and again.stored == 0 and again.revision == 2
    after = _counts(store)
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert after["audit"] == before["audit"] + 1  # the retry is audited, nothing else


def test_a_bad_row_refuses_the_whole_batch_with_its_row(store):
    before = _counts(store)
    rows = [
        {"nip": KASI, "course_id": "C03", "start_date": "2024-09-01", "status": "ongoing"},
        {
            "nip": "199999999999999999",
            "course_id": "C01",
            "start_date": "2024-09-01",
            "status": "ongoing",
        },
        {"nip": KASI, "course_id": "C04", "start_date": "2024-13-01", "status": "ongoing"},
    ]
    result = store.ingest([batch_from_records(c.ENROLLMENTS, rows)], "test", "api")
    assert not result.ok
    found = {(v.file, v.line, v.column, v.rule) for v in result.report.errors}
    assert ("enrollments.json", 2, c.NIP, "reference") in found
    assert ("enrollments.json", 3, c.START_DATE, "type") in found
    after = _counts(store)
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert store.revision() == 1


def test_csv_upload_names_its_file_and_line_and_duplicates_are_refused(store):
    csv = (
        "nip,course_id,start_date,end_date,status,score\n"
        f"{KASI},C03,2024-09-01,,ongoing,\n"
        f"{KASI},C03,2024-09-01,,dropped,\n"
    ).encode()
    result = store.ingest([batch_from_csv(c.ENROLLMENTS, csv, "export.csv")], "test", "api")
    assert [(v.file, v.line, v.rule) for v in result.report.errors] == [("export.csv", 3, "unique")]
    ok = store.ingest(
        [batch_from_csv(c.ENROLLMENTS, csv.rsplit(b"\n", 2)[0] + b"\n")], "test", "api"
    )
    assert ok.ok and ok.changes[c.ENROLLMENTS].inserted == 1


def test_rows_may_refer_to_rows_of_the_same_batch_or_stored_ones(store):
    tables = tiny_tables()
    employee = tables[c.EMPLOYEES].iloc[[0]].astype(object)
    new_nip = "199701012022031001"
    record = {k: (None if pd.isna(v) else v) for k, v in employee.iloc[0].to_dict().items()}
    record.update(
        nip=new_nip,
        name="Budi Santoso, S.Kom.",
        gender="L",
        birth_date="1997-01-01",
        tmt_cpns="2022-03-01",
        supervisor_nip=KASI,
    )
    record = {k: (v.date().isoformat() if hasattr(v, "date") else v) for k, v in record.items()}
    batches = [
        batch_from_records(c.EMPLOYEES, [record]),
        batch_from_records(
            c.ENROLLMENTS,
            [{"nip": new_nip, "course_id": "C01", "start_date": "2024-10-01", "status": "ongoing"}],
        ),
    ]
    result = store.ingest(batches, "test", "api")
    assert result.ok, result.report.errors
    assert result.changes[c.EMPLOYEES].inserted == 1 and new_nip in result.nips


def test_replace_all_makes_the_store_the_folder(store, tmp_path: Path):
    tables = tiny_tables()
    tables[c.ENROLLMENTS] = tables[c.ENROLLMENTS].iloc[:3]
    from features.io import write_dataset

    write_dataset(tables, tmp_path / "smaller")
    merged = store.import_folder(tmp_path / "smaller")
    assert merged.ok and merged.stored == 0  # an upsert keeps the rows the folder lacks
    assert len(store.tables()[c.ENROLLMENTS]) == 8
    replaced = store.import_folder(tmp_path / "smaller", replace_all=True)
    assert replaced.ok and len(store.tables()[c.ENROLLMENTS]) == 3
    assert replaced.revision == 2


def test_workers_starting_together_all_create_the_schemas(database_url: str):
    """Four 'workers' (threads with engines of their own) create every table at once."""
    import threading

    from serving.db import create_schema
    from serving.outbox import Outbox

    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker() -> None:
        engine = make_engine(database_url)
        try:
            start.wait()
            create_schema(engine)
            DatasetStore(engine).create_schema()
            Outbox(database_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    engine = make_engine(database_url)
    assert DatasetStore(engine).revision() == 0
    engine.dispose()
