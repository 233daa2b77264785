"""Flask app factory: webhook, health and metrics routes over a :class:`Publisher`."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from werkzeug.exceptions import HTTPException

from adapters.kafka_publisher import KafkaPublisher, Publisher
from pillarstream.errors import DeliveryRejected, PublishError
from pillarstream.settings import Settings
from receiver.body import read_body
from receiver.delivery import parse_delivery
from receiver.metrics import exposition

log = logging.getLogger("receiver.delivery")
RETRY_AFTER_SECONDS = "5"

webhooks = Blueprint("webhooks", __name__)
health = Blueprint("health", __name__)


class ReceiverMetrics:
    """Prometheus series, one registry per app so several apps can live in one process (tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "pillarstream_deliveries", "Webhook deliveries by event and HTTP status",
            ["event", "status"], registry=self.registry)
        self.publish_seconds = Histogram(
            "pillarstream_publish_seconds", "Time until Kafka acknowledged a delivery",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=self.registry)
        self.payload_bytes = Histogram(
            "pillarstream_payload_bytes", "Accepted payload sizes",
            buckets=(1e3, 4e3, 16e3, 64e3, 256e3, 1e6, 4e6, 16e6, 32e6), registry=self.registry)
        # Across gunicorn workers: the sum over the workers alive now (receiver/metrics.py).
        self.in_flight = Gauge(
            "pillarstream_publishes_in_flight", "Deliveries waiting for Kafka's acknowledgement",
            multiprocess_mode="livesum", registry=self.registry)


def create_app(settings: Settings, publisher: Publisher | None = None) -> Flask:
    app = Flask(__name__)
    # Werkzeug refuses longer bodies with 413 while reading, so a body is never buffered without bound.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["BODY_READ_TIMEOUT"] = settings.body_read_timeout_seconds
    app.extensions["pillarstream"] = {
        "secrets": settings.secrets(),
        "publisher": publisher or KafkaPublisher(
            settings.kafka(), settings.raw_topic,
            timeout_s=settings.publish_timeout_seconds,
            max_request_bytes=settings.max_body_bytes + 2**20, compression=settings.kafka_compression),
        "metrics": ReceiverMetrics(),
    }
    app.register_blueprint(webhooks)
    app.register_blueprint(health)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _state(name: str) -> object:
    return current_app.extensions["pillarstream"][name]


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    return jsonify(error=exc.name), exc.code or 500


@webhooks.post("/webhooks/github")
def receive() -> tuple[Response, int] | Response:
    started = time.perf_counter()
    metrics: ReceiverMetrics = _state("metrics")  # type: ignore[assignment]
    event = request.headers.get("X-GitHub-Event", "")[:64] or "unknown"
    delivery_id = request.headers.get("X-GitHub-Delivery", "")[:128]
    repo = None
    try:
        body = read_body(request, limit=current_app.config["MAX_CONTENT_LENGTH"],
                         timeout_s=current_app.config["BODY_READ_TIMEOUT"])
        headers = {name: request.headers.getlist(name) for name in request.headers.keys()}
        envelope = parse_delivery(
            headers=headers, body=body, secrets=_state("secrets"),  # type: ignore[arg-type]
            received_at=datetime.now(UTC))
        repo = envelope.repo_full_name
        with metrics.publish_seconds.time(), metrics.in_flight.track_inprogress():
            _state("publisher").publish(envelope)  # type: ignore[attr-defined]
        metrics.payload_bytes.observe(len(envelope.payload))
        status, answer = 202, jsonify(status="accepted", delivery_id=envelope.delivery_id)
    except DeliveryRejected as exc:
        status, answer = exc.status, jsonify(error=exc.reason)
    except PublishError:
        status, answer = 503, jsonify(error="event bus unavailable, retry the delivery")
        answer.headers["Retry-After"] = RETRY_AFTER_SECONDS
    # Only validated event names become label values: a client must not be able to mint new series.
    label = event if status in (202, 503) else "rejected"
    metrics.deliveries.labels(label, str(status)).inc()
    log.log(logging.INFO if status < 500 else logging.WARNING, "delivery", extra={
        "delivery_id": delivery_id, "event": event, "repository": repo, "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2)})
    return answer, status


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="alive")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    if _state("publisher").ready():  # type: ignore[attr-defined]
        return jsonify(status="ready"), 200
    return jsonify(status="kafka unreachable"), 503


@health.get("/metrics")
def metrics_route() -> Response:
    metrics: ReceiverMetrics = _state("metrics")  # type: ignore[assignment]
    return Response(exposition(metrics.registry), mimetype=CONTENT_TYPE_LATEST)
