"""Prometheus metrics: text format, labels by route template (no NIPs), separate registries."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import UNMATCHED_ROUTE, PrometheusMiddleware, ServingMetrics

NIP = "198503302010011002"


class _FakeLog:
    def stats(self) -> dict[str, float]:
        return {"written": 7.0, "shipped": 5.0, "pending_rows": 2.0, "failures": 1.0}


def _app(metrics: ServingMetrics) -> FastAPI:
    app = FastAPI()
    app.add_middleware(PrometheusMiddleware, metrics=metrics)

    @app.get("/employees/{nip}/plan")
    def plan(nip: str) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("broken")

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.render_metrics()
        return Response(body, media_type=content_type)

    return app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def scraped() -> tuple[str, str]:
    metrics = ServingMetrics()
    metrics.set_model("kompeten-planner", "3", alias="champion")
    metrics.watch_prediction_log(_FakeLog())
    with TestClient(_app(metrics), raise_server_exceptions=False) as client:
        assert client.get(f"/employees/{NIP}/plan").status_code == 200
        assert client.get("/employees/199001012015032001/plan").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.get("/nowhere").status_code == 404
        response = client.get("/metrics")
    assert response.status_code == 200
    return response.text, response.headers["content-type"]


def test_requests_are_counted_by_route_template(scraped: tuple[str, str]) -> None:
    text, content_type = scraped
    assert content_type.startswith("text/plain")
    samples = _samples(text)
    key = (("method", "GET"), ("route", "/employees/{nip}/plan"), ("status", "200"))
    assert samples[("kompeten_http_requests_total", key)] == 2.0
    boom = (("method", "GET"), ("route", "/boom"), ("status", "500"))
    assert samples[("kompeten_http_requests_total", boom)] == 1.0
    lost = (("method", "GET"), ("route", UNMATCHED_ROUTE), ("status", "404"))
    assert samples[("kompeten_http_requests_total", lost)] == 1.0


def test_latency_histogram_has_buckets_and_count(scraped: tuple[str, str]) -> None:
    samples = _samples(scraped[0])
    route = (("route", "/employees/{nip}/plan"),)
    assert samples[("kompeten_http_request_duration_seconds_count", route)] == 2.0
    assert samples[("kompeten_http_request_duration_seconds_sum", route)] > 0.0
    inf_bucket = (("le", "+Inf"), ("route", "/employees/{nip}/plan"))
    assert samples[("kompeten_http_request_duration_seconds_bucket", inf_bucket)] == 2.0


def test_model_info_and_prediction_log_gauges(scraped: tuple[str, str]) -> None:
    samples = _samples(scraped[0])
    model = (("alias", "champion"), ("name", "kompeten-planner"), ("version", "3"))
    assert samples[("kompeten_model_info", model)] == 1.0
    assert samples[("kompeten_prediction_log_written_total", ())] == 7.0
    assert samples[("kompeten_prediction_log_pending_rows", ())] == 2.0
    assert samples[("kompeten_prediction_log_failures_total", ())] == 1.0


def test_no_nip_in_metrics(scraped: tuple[str, str]) -> None:
    assert NIP not in scraped[0]
    assert "199001012015032001" not in scraped[0]


def test_registries_are_separate_and_model_info_is_replaced() -> None:
    first, second = ServingMetrics(), ServingMetrics()
    first.observe("/x", "get", 200, 0.01)
    first.set_model("m", "1")
    first.set_model("m", "2")
    text_first = first.render_metrics()[0].decode()
    text_second = second.render_metrics()[0].decode()
    assert 'route="/x"' in text_first
    assert 'route="/x"' not in text_second
    versions = [
        dict(labels)["version"]
        for (name, labels) in _samples(text_first)
        if name == "kompeten_model_info"
    ]
    assert versions == ["2"]
