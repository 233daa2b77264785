"""Kafka publishing with kafka-python: acks=all, idempotent, every wait bounded.

Used by the receiver, the backfill and the replay, so every producer of raw events behaves the same.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, Protocol

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pillarstream.envelope import Envelope, Record, to_record
from pillarstream.errors import PublishError
from pillarstream.kafka_client import KafkaConnection, connect_errors, connection, kafka_python_options
from pillarstream.settings import Compression

log = logging.getLogger(__name__)


class Acks(Protocol):
    def wait(self) -> int: ...


class Publisher(Protocol):
    def publish(self, envelope: Envelope) -> None: ...
    def publish_many(self, envelopes: Iterable[Envelope]) -> int: ...
    def ready(self) -> bool: ...
    def close(self) -> None: ...


class PipelinedPublisher(Publisher, Protocol):
    def send_records(self, records: Iterable[Record]) -> Acks: ...


class KafkaPublisher:
    """Publishes envelopes and returns only once the broker acknowledged them (``acks=all``).

    A producer that failed is replaced on the next call, so the receiver recovers by itself when the
    broker comes back, without a restart.
    """

    def __init__(self, kafka: KafkaConnection | str, topic: str, *, timeout_s: float = 5.0,
                 max_request_bytes: int = 27 * 2**20, linger_ms: int = 2, compression: Compression = "zstd"):
        self._kafka = connection(kafka)
        self._bootstrap = self._kafka.bootstrap
        self._compression = None if compression == "none" else compression
        self._topic = topic
        self._timeout_s = timeout_s
        self._max_request_bytes = max_request_bytes
        self._linger_ms = linger_ms
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self._timeout_s * 1000)
                with connect_errors(self._kafka):
                    self._producer = KafkaProducer(
                        **kafka_python_options(self._kafka),
                        acks="all",
                        enable_idempotence=True,
                        # Payloads are 1–50 KB: with the 16 KB default every record would travel in a
                        # batch of its own; 1 MiB lets concurrent deliveries share produce requests.
                        batch_size=2**20,
                        linger_ms=self._linger_ms,
                        # Webhook JSON repeats itself (URLs, repository objects): zstd shrinks a batch of
                        # real payloads about 70:1, which the Python client, the wire and the log all feel.
                        compression_type=self._compression,
                        max_request_size=self._max_request_bytes,
                        # Bound every wait: a webhook must be answered within GitHub's 10 s.
                        max_block_ms=timeout_ms,
                        request_timeout_ms=timeout_ms,
                        delivery_timeout_ms=timeout_ms + self._linger_ms,
                        reconnect_backoff_max_ms=1000,
                    )
            return self._producer

    def _discard(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except KafkaError:
                pass  # records still buffered were answered 503; GitHub's redelivery brings them back

    def publish(self, envelope: Envelope) -> None:
        self.publish_many([envelope])

    def publish_many(self, envelopes: Iterable[Envelope]) -> int:
        """Send all, then wait for every acknowledgement; raises :class:`PublishError` if any is missing."""
        return self.send_records(to_record(envelope) for envelope in envelopes).wait()

    def send_records(self, records: Iterable[Record]) -> Acks:
        """Send records (key, value, headers) and return at once; the caller waits on the acks later, so it
        can send the next chunk meanwhile."""
        producer = self._get()
        try:
            futures = [producer.send(self._topic, key=key, value=value, headers=headers)
                       for key, value, headers in records]
        except KafkaError as exc:
            self._failed(exc)
        return _KafkaAcks(futures, self._timeout_s, self._failed)

    def _failed(self, exc: KafkaError) -> NoReturn:
        self._discard()
        raise PublishError(f"Kafka did not acknowledge: {type(exc).__name__}") from exc

    def ready(self) -> bool:
        """The broker answers on a bootstrap address (cheap enough for a readiness probe)."""
        for server in self._bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host, int(port)), timeout=1.0):
                    return True
            except OSError:
                continue
        return False

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(timeout=self._timeout_s)
            producer.close(timeout=self._timeout_s)


class _KafkaAcks:
    def __init__(self, futures: list[Any], timeout_s: float, failed: Callable[[KafkaError], NoReturn]) -> None:
        self._futures = futures
        self._timeout_s = timeout_s
        self._failed = failed

    def wait(self) -> int:
        try:
            for future in self._futures:
                future.get(timeout=self._timeout_s)
        except KafkaError as exc:
            self._failed(exc)
        return len(self._futures)


def ensure_topic(kafka: KafkaConnection | str, topic: str, partitions: int, replication: int, *,
                 timeout_s: float = 30.0) -> bool:
    """Create the raw topic if it is missing; returns True when it was created.

    Production: replication 3 with ``min.insync.replicas=2`` so an acknowledged record survives a broker.
    """
    configs = {"min.insync.replicas": str(min(2, replication)), "max.message.bytes": str(27 * 2**20)}
    kafka = connection(kafka)
    with connect_errors(kafka):
        admin = KafkaAdminClient(**kafka_python_options(kafka), request_timeout_ms=int(timeout_s * 1000))
    try:
        admin.create_topics([NewTopic(topic, partitions, replication, topic_configs=configs)])
        log.info("created topic", extra={"topic": topic, "partitions": partitions, "replication": replication})
        return True
    except TopicAlreadyExistsError:
        return False
    finally:
        admin.close()
