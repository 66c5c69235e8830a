"""Pure maths of a batch of served predictions: its aggregate metrics, its table, retry timing.

No I/O: `serving.mlflow_client.MlflowShipper` logs what these return; the recorder
(`serving.prediction_log`) asks `retry_delay` when to try again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from serving.outbox import Record

TABLE_COLUMNS = (
    "record_id",
    "timestamp",
    "kind",
    "nip_pseudonym",
    "model_version",
    "items",
    "scores",
    "risk",
    "latency_ms",
)
_METRIC_KEY_RE = re.compile(r"[^0-9A-Za-z_\-./ ]")


def looks_like_nip(value: str) -> bool:
    """An 18-digit string: the NIP shape (mentor recommendations list NIPs as items)."""
    return len(value) == 18 and value.isdigit()


def batch_metrics(records: Sequence[Record]) -> dict[str, float]:
    """Aggregate numbers for one batch: volume by kind, latency quantiles, scores, risk."""
    if not records:
        return {"requests": 0.0}
    latency = np.array([r.latency_ms for r in records], dtype=float)
    out: dict[str, float] = {"requests": float(len(records))}
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    for kind, count in sorted(kinds.items()):
        out[f"requests_{_metric_key(kind)}"] = float(count)
    p50, p95, p99 = np.percentile(latency, [50, 95, 99])
    out.update(
        latency_ms_mean=float(latency.mean()),
        latency_ms_p50=float(p50),
        latency_ms_p95=float(p95),
        latency_ms_p99=float(p99),
        latency_ms_max=float(latency.max()),
    )
    all_scores = [s for r in records for s in r.scores]
    top_scores = [r.scores[0] for r in records if r.scores]
    out["empty_results"] = float(sum(1 for r in records if not r.items))
    if all_scores:
        out["score_mean"] = float(np.mean(all_scores))
        out["top_score_mean"] = float(np.mean(top_scores))
    risks = np.array([r.risk for r in records if r.risk is not None], dtype=float)
    out["risk_count"] = float(risks.size)
    if risks.size:
        r10, r50, r90 = np.percentile(risks, [10, 50, 90])
        out.update(
            risk_mean=float(risks.mean()),
            risk_p10=float(r10),
            risk_p50=float(r50),
            risk_p90=float(r90),
        )
    return out


def batch_table(records: Sequence[Record]) -> str:
    """The batch as CSV text (items and scores as JSON lists), one row per served prediction."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TABLE_COLUMNS)
    for r in records:
        writer.writerow(
            (
                r.record_id,
                datetime.fromtimestamp(r.ts, tz=UTC).isoformat(timespec="milliseconds"),
                r.kind,
                r.subject,
                r.model_version,
                json.dumps(r.items, ensure_ascii=False),
                json.dumps([round(s, 6) for s in r.scores]),
                "" if r.risk is None else round(r.risk, 6),
                round(r.latency_ms, 3),
            )
        )
    return buffer.getvalue()


def retry_delay(failures: int, interval_s: float, base_s: float, cap_s: float) -> float:
    """Seconds until the next flush: the interval when healthy, doubling backoff after failures."""
    if failures <= 0:
        return interval_s
    return min(cap_s, base_s * 2 ** (failures - 1))


def _metric_key(name: str) -> str:
    return _METRIC_KEY_RE.sub("_", name) or "unknown"
