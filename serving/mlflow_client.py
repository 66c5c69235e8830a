"""THE serving side's MLflow adapter: the only serving module that imports mlflow.

- `Registry`: which version is the champion (alias lookup, by version number afterwards, so an
  alias moved mid-load cannot give a version/model mismatch) and downloading a version's model
  files into a folder (the local champion copy, `serving.champion_copy`). The planner is then
  read from those files with `model.bundle.load_planner_file` (joblib): serving never loads the
  pyfunc, so it never executes the training side's model code.
- `MlflowShipper`: the prediction log's writes (one serving run per model version: metrics,
  the batch table as an artifact, sampled traces).

Importing this module imports mlflow (seconds): the app imports it lazily, when it loads a
model or starts shipping.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
from mlflow import MlflowClient
from mlflow.entities import (
    LiveSpan,
    Metric,
    SpanType,
    TraceData,
    TraceInfo,
    TraceLocation,
    TraceState,
)
from mlflow.exceptions import MlflowException
from mlflow.tracing.client import TracingClient
from mlflow.tracing.constant import SpansLocation, TraceMetadataKey, TraceTagKey
from mlflow.tracing.utils import generate_trace_id_v3
from opentelemetry.sdk.trace import TracerProvider

from features.privacy import refuse_nip_like
from serving.outbox import Batch, Record
from serving.prediction_batches import batch_metrics, batch_table

# One progress bar per downloaded file is noise in a service log (explicit settings win).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

_log = logging.getLogger(__name__)

SERVING_EXPERIMENT = "kompeten-serving"
TAG_ROLE = "kompeten.role"
TAG_MODEL_NAME = "kompeten.model_name"
TAG_MODEL_VERSION = "kompeten.model_version"


def limit_http(timeout_s: float, max_retries: int, backoff_factor: float | None = None) -> None:
    """Bound MLflow's HTTP calls process-wide, but only where the environment says nothing:
    a slow or dead tracking server must fail a reload or a flush in seconds (MLflow's defaults
    retry 7 times with backoff)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max_retries))
    if backoff_factor is not None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", str(backoff_factor))


class Registry:
    """The model registry at `tracking_uri`: champion lookup and model file downloads."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._configured = False

    def _client(self) -> MlflowClient:
        if not self._configured:
            # `models:/` URIs resolve through the global registry URI.
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.tracking_uri)
            self._configured = True
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def version_by_alias(self, model_name: str, alias: str) -> str:
        """The version number `model_name@alias` points at.

        LookupError when the registry answered that there is none; any other exception means
        the registry could not be asked (the caller may fall back to its local copy).
        """
        try:
            version = self._client().get_model_version_by_alias(model_name, alias)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise LookupError(
                f"no model {model_name}@{alias} in the registry yet; train one (`kompeten train`)"
            ) from exc
        return str(version.version)

    def download(self, model_name: str, version: str, dst: Path) -> None:
        """The files of registered version `version` (as MLflow stores them) into `dst`."""
        self._client()
        dst.mkdir(parents=True)
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}", dst_path=str(dst)
        )


class MlflowShipper:
    """Ships batches to MLflow through its own client (the global tracking URI is not touched)."""

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str = SERVING_EXPERIMENT,
        model_name: str = "",
        artifact_root: Path | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.model_name = model_name
        self.artifact_root = artifact_root
        self._client: Any = None
        self._tracing: Any = None
        self._tracer: Any = None
        self._experiment_id: str | None = None
        self._run_ids: dict[str, str] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            if self.tracking_uri.startswith("sqlite:///"):
                Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is not None:
                self._experiment_id = exp.experiment_id
            else:
                location = None
                if self.artifact_root is not None and self.tracking_uri.startswith("sqlite:"):
                    folder = self.artifact_root / "serving"
                    folder.mkdir(parents=True, exist_ok=True)
                    location = folder.as_uri()
                self._experiment_id = self.client.create_experiment(
                    self.experiment_name, artifact_location=location
                )
        return self._experiment_id

    def run_id(self, model_version: str) -> str:
        """The serving run of a model version: found by tag, else created (oldest one wins)."""
        if model_version in self._run_ids:
            return self._run_ids[model_version]
        experiment_id = self.experiment_id()
        version = model_version.replace("'", "")
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`{TAG_ROLE}` = 'serving' and tags.`{TAG_MODEL_VERSION}` = '{version}'"
            ),
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        if runs:
            run_id = runs[0].info.run_id
        else:
            tags = {TAG_ROLE: "serving", TAG_MODEL_VERSION: model_version}
            if self.model_name:
                tags[TAG_MODEL_NAME] = self.model_name
            run = self.client.create_run(
                experiment_id, run_name=f"serving-v{model_version}", tags=tags
            )
            run_id = run.info.run_id
        self._run_ids[model_version] = run_id
        return run_id

    def ship(self, batch: Batch, records: Sequence[Record]) -> str:
        table = batch_table(records)
        refuse_nip_like(table, batch.artifact_file)
        try:
            run_id = self.run_id(batch.model_version)
            metrics = [
                Metric(f"serving_{key}", value, batch.created_ms, batch.batch_id)
                for key, value in batch_metrics(records).items()
            ]
            self.client.log_batch(run_id, metrics=metrics, synchronous=True)
            self.client.log_text(run_id, table, batch.artifact_file)
        except Exception:
            # The run may have been deleted, or the store swapped: look it up again next time.
            self._run_ids.pop(batch.model_version, None)
            raise
        return run_id

    def log_traces(self, run_id: str, records: Sequence[Record]) -> int:
        """One synchronous trace per sampled record, linked to the serving run."""
        return sum(self._log_trace(run_id, r) for r in records)

    def _log_trace(self, run_id: str, record: Record) -> int:
        if self._tracing is None:
            self._tracing = TracingClient(self.tracking_uri)
            # A private provider: these spans bypass MLflow's global (async, dropping) exporter.
            self._tracer = TracerProvider().get_tracer("kompeten.serving")
        experiment_id = self.experiment_id()
        inputs = {"nip_pseudonym": record.subject, "kind": record.kind}
        outputs = {"items": record.items, "scores": record.scores, "risk": record.risk}
        refuse_nip_like(json.dumps([inputs, outputs]), "trace")
        start_ns = int(record.ts * 1e9)
        end_ns = start_ns + int(record.latency_ms * 1e6)
        otel_span = self._tracer.start_span(f"recommend.{record.kind}", start_time=start_ns)
        trace_id = generate_trace_id_v3(otel_span)
        span = LiveSpan(otel_span, trace_id, SpanType.CHAIN)
        span.set_inputs(inputs)
        span.set_outputs(outputs)
        span.set_attributes({"model_version": record.model_version, "record_id": record.record_id})
        span.end(end_time_ns=end_ns)
        info = TraceInfo(
            trace_id=trace_id,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=start_ns // 1_000_000,
            execution_duration=int(record.latency_ms),
            state=TraceState.OK,
            request_preview=json.dumps(inputs),
            response_preview=json.dumps(outputs)[:1000],
            trace_metadata={TraceMetadataKey.SOURCE_RUN: run_id},
            tags={
                TAG_ROLE: "serving",
                TAG_MODEL_VERSION: record.model_version,
                "kompeten.kind": record.kind,
                "kompeten.record_id": str(record.record_id),
            },
        )
        returned = self._tracing.start_trace(info)
        spans_in_store = False
        try:
            self._tracing.log_spans(experiment_id, [span])
            spans_in_store = True
        except Exception as exc:  # stores without span logging (file store behind a server)
            _log.debug("log_spans unsupported, uploading trace data: %s", exc)
        tags = dict(returned.tags or {})
        if not spans_in_store or (
            tags.get(TraceTagKey.SPANS_LOCATION) not in (None, SpansLocation.TRACKING_STORE.value)
        ):
            # Stores without span logging read spans from the trace's artifact instead.
            self._tracing._upload_trace_data(returned, TraceData(spans=[span]))
        return 1
