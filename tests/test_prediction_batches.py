"""A batch's maths, without I/O: metrics, its table and artifact name, retry timing, NIP refusal."""

from __future__ import annotations

import csv
import io

import pytest

from features.privacy import refuse_nip_like
from serving.outbox import Batch, Record
from serving.prediction_batches import batch_metrics, batch_table, retry_delay

NIP = "198503302010010001"


# --- batch maths ------------------------------------------------------------------------------


def _rec(i: int, kind: str, latency: float, scores: list[float], risk: float | None) -> Record:
    return Record(
        i, 1_700_000_000.0 + i, kind, f"p_{i}", "3", ["C1"] * len(scores), scores, risk, latency
    )


def test_batch_metrics_exact_values() -> None:
    records = [
        _rec(1, "path", 10.0, [0.8, 0.2], 0.1),
        _rec(2, "path", 20.0, [0.6], None),
        _rec(3, "mentor", 30.0, [], 0.5),
    ]
    m = batch_metrics(records)
    assert m["requests"] == 3.0
    assert m["requests_path"] == 2.0
    assert m["requests_mentor"] == 1.0
    assert m["latency_ms_p50"] == 20.0
    assert m["latency_ms_mean"] == 20.0
    assert m["latency_ms_max"] == 30.0
    assert m["score_mean"] == pytest.approx((0.8 + 0.2 + 0.6) / 3)
    assert m["top_score_mean"] == pytest.approx(0.7)
    assert m["empty_results"] == 1.0
    assert m["risk_count"] == 2.0
    assert m["risk_p50"] == pytest.approx(0.3)
    assert batch_metrics([]) == {"requests": 0.0}


def test_batch_table_and_artifact_name_are_deterministic() -> None:
    records = [_rec(1, "path", 10.0, [0.8], None)]
    assert batch_table(records) == batch_table(records)
    first_row = next(csv.DictReader(io.StringIO(batch_table(records))))
    assert first_row["record_id"] == "1"
    assert first_row["risk"] == ""
    batch = Batch(7, "abcdef0123456789", "3", 1_700_000_000_000, 1)
    assert batch.artifact_file == "predictions/2023-11-14/batch-221320-abcdef012345.csv"


def test_retry_delay_backs_off_and_caps() -> None:
    assert retry_delay(0, 30.0, 5.0, 300.0) == 30.0
    assert [retry_delay(k, 30.0, 5.0, 300.0) for k in (1, 2, 3)] == [5.0, 10.0, 20.0]
    assert retry_delay(20, 30.0, 5.0, 300.0) == 300.0


def test_refuse_nip_like() -> None:
    refuse_nip_like("p_0123456789abcdef,C1", "ok")
    with pytest.raises(ValueError, match="NIP"):
        refuse_nip_like(f"x,{NIP},y", "table")
