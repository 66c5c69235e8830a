"""Prometheus metrics of the serving app, in a registry of its own so apps and tests never collide.

Routes are labelled by their template (`/employees/{nip}/plan`), never by the raw path: raw paths
would put NIPs into Prometheus and give every employee a time series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

NAMESPACE = "kompeten"
UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HasStats(Protocol):
    """Anything reporting counters by name, e.g. `serving.prediction_log.PredictionLog`."""

    def stats(self) -> Mapping[str, float]: ...


class ServingMetrics:
    """Request counter and latency histogram by route, the served model, the prediction log."""

    def __init__(self, namespace: str = NAMESPACE) -> None:
        self.namespace = namespace
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests",
            "HTTP requests served, by route template, method and status code.",
            ["route", "method", "status"],
            namespace=namespace,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            ["route"],
            namespace=namespace,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (value 1; labels say which).",
            ["name", "version", "alias"],
            namespace=namespace,
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int | str, seconds: float) -> None:
        """Count one finished request and its duration."""
        self.requests.labels(route=route, method=method.upper(), status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def set_model(self, name: str, version: str, alias: str = "") -> None:
        """Say which model serves now (replaces the previous one: one series at a time)."""
        self.model_info.clear()
        self.model_info.labels(name=name, version=str(version), alias=alias).set(1)

    def watch_prediction_log(self, log: HasStats) -> None:
        """Expose the prediction log's counters (backlog, shipped, failures) at scrape time."""
        self.registry.register(_PredictionLogCollector(log, self.namespace))

    def render_metrics(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type, for a `/metrics` response."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def route_label(scope: Scope) -> str:
    """The matched route's template; `unmatched` when routing found nothing (404s)."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED_ROUTE


class PrometheusMiddleware:
    """Pure ASGI middleware: `app.add_middleware(PrometheusMiddleware, metrics=metrics)`."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            # The router fills scope["route"] in place, so after the call it names the template.
            self.metrics.observe(
                route_label(scope), scope.get("method", ""), status, time.perf_counter() - start
            )


_LOG_COUNTERS = {
    "written": "Predictions written to the outbox.",
    "shipped": "Predictions accepted by MLflow.",
    "failures": "Flush cycles that could not ship to MLflow.",
    "refused": "Predictions not recorded because their values were unusable.",
    "quarantined": "Predictions held back from MLflow for good (look like personal data).",
}
_LOG_GAUGES = {
    "queued": "Predictions in memory, not yet in the outbox.",
    "pending_rows": "Predictions in the outbox not yet accepted by MLflow.",
    "consecutive_failures": "Flush cycles failed in a row (0 when MLflow is reachable).",
    "last_ship_unix": "Unix time of the last successful flush (0: none yet).",
    "shipper_heartbeat_unix": "Unix time serve's shipper process last ended a flush cycle, "
    "successful or not (0: no shipper process reported yet).",
}


class _PredictionLogCollector(Collector):
    def __init__(self, log: HasStats, namespace: str) -> None:
        self._log = log
        self._prefix = f"{namespace}_prediction_log_"

    def collect(self) -> Iterator[Metric]:
        stats = self._log.stats()
        for key, doc in _LOG_COUNTERS.items():
            counter = CounterMetricFamily(self._prefix + key, doc)
            counter.add_metric([], float(stats.get(key, 0.0)))
            yield counter
        for key, doc in _LOG_GAUGES.items():
            gauge = GaugeMetricFamily(self._prefix + key, doc)
            gauge.add_metric([], float(stats.get(key, 0.0)))
            yield gauge
