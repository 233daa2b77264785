"""Kafka publishing with kafka-python: acks=all, idempotent, every wait bounded.

Used by the receiver, the backfill and the replay, so every producer of raw events behaves the same.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import partial
from typing import Any, NoReturn, Protocol

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from adapters.kafka_client import connect_errors, kafka_python_options
from pillarstream.envelope import Envelope, Record, to_record
from pillarstream.errors import PublishError
from pillarstream.kafka_connection import KafkaConnection, connection
from pillarstream.settings import Compression

log = logging.getLogger(__name__)
# After a failed producer build, requests are refused at once for this long instead of each waiting.
RETRY_BUILD_AFTER_S = 1.0
# Once a producer has failed, the longest a request waits for the replacement being built.
RECOVERY_WAIT_S = 0.5


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
    broker comes back, without a restart. The replacement is built on a thread of its own: with the broker
    down a build probes for seconds. The first build is waited for until the request's deadline; after a
    failure a request waits at most RECOVERY_WAIT_S for the replacement, then gets a 503, and for
    RETRY_BUILD_AFTER_S after a failed build requests get their 503 at once.
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
        # Guards the fields below; never held while talking to Kafka.
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None
        self._building: threading.Event | None = None
        self._retry_at = 0.0
        self._last_error = ""
        self._closed = False
        # After a producer failed, requests wait for its replacement only briefly (then 503, GitHub
        # retries): with the broker still down a build takes seconds, and threads must not pile up on it.
        self._recovering = False

    def _get(self, deadline: float) -> KafkaProducer:
        """The producer, waiting for one being built until ``deadline`` (``time.monotonic()``) at most."""
        with self._lock:
            if self._producer is not None:
                return self._producer
            if self._closed:
                raise PublishError("publisher is closed")
            if self._building is None:
                if time.monotonic() < self._retry_at:
                    raise PublishError(f"cannot connect to Kafka at {self._bootstrap}: {self._last_error}")
                self._building = threading.Event()
                threading.Thread(target=self._build, args=(self._building,), name="kafka-producer-build",
                                 daemon=True).start()
            if self._recovering:
                deadline = min(deadline, time.monotonic() + RECOVERY_WAIT_S)
            building = self._building
        building.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if self._producer is not None:
                return self._producer
            reason = (self._last_error or "replaced meanwhile") if building.is_set() else "still connecting"
        raise PublishError(f"no Kafka producer for {self._bootstrap} in time: {reason}")

    def _build(self, done: threading.Event) -> None:
        """Runs on a thread of its own: a producer that has the topic's metadata, or the reason why not."""
        producer: KafkaProducer | None = None
        error = ""
        try:
            if not self._closed:
                timeout_ms = int(self._timeout_s * 1000)
                with connect_errors(self._kafka):
                    producer = KafkaProducer(
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
                try:
                    # The topic's metadata now, so a request's send() does not block on fetching it.
                    producer.partitions_for(self._topic)
                except KafkaError:
                    _close_quietly(producer)
                    producer = None
                    raise
        except Exception as exc:  # noqa: BLE001 - any failure must release the waiters, and is reported
            # connect_errors already names the brokers and the cause (PublishError); others get their type.
            error = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
            log.warning("cannot connect to Kafka", extra={"bootstrap": self._bootstrap, "error": error})
        with self._lock:
            self._building = None
            self._last_error = error
            self._recovering = producer is None
            if producer is None:
                self._retry_at = time.monotonic() + RETRY_BUILD_AFTER_S
            elif self._closed:
                _close_quietly(producer)
            else:
                self._producer = producer
        done.set()

    def _discard(self, producer: KafkaProducer) -> None:
        """Drop ``producer`` after it failed, unless another request already replaced it."""
        with self._lock:
            if self._producer is not producer:
                return
            self._producer = None
            self._recovering = True
        # Not on the request's thread: closing joins the producer's I/O thread, which can take seconds
        # while it is stuck reconnecting to a dead broker, and the request is due now.
        # Its records expire delivery_timeout_ms (timeout + linger) after they were sent, so by then the flush
        # in close() is done and the producer's I/O thread stops.
        wait_s = self._timeout_s + self._linger_ms / 1000 + 1.0
        threading.Thread(target=_close_quietly, args=(producer, wait_s), name="kafka-producer-close",
                         daemon=True).start()

    def publish(self, envelope: Envelope) -> None:
        """One envelope, acknowledged or refused within ``timeout_s`` of the call (the receiver's path)."""
        deadline = time.monotonic() + self._timeout_s
        self._send([to_record(envelope)], deadline).wait(deadline)

    def publish_many(self, envelopes: Iterable[Envelope]) -> int:
        """Send all, then wait for every acknowledgement; raises :class:`PublishError` if any is missing."""
        return self.send_records(to_record(envelope) for envelope in envelopes).wait()

    def send_records(self, records: Iterable[Record]) -> Acks:
        """Send records (key, value, headers) and return at once; the caller waits on the acks later, so it
        can send the next chunk meanwhile."""
        return self._send(records, time.monotonic() + self._timeout_s)

    def _send(self, records: Iterable[Record], deadline: float) -> _KafkaAcks:
        producer = self._get(deadline)
        failed = partial(self._failed, producer)
        try:
            futures = [producer.send(self._topic, key=key, value=value, headers=headers)
                       for key, value, headers in records]
        except KafkaError as exc:
            failed(exc)
        except AssertionError as exc:  # kafka-python asserts it is open: another request closed it just now
            failed(KafkaError(f"producer closed meanwhile: {exc}"))
        return _KafkaAcks(futures, self._timeout_s, failed)

    def _failed(self, producer: KafkaProducer, exc: KafkaError) -> NoReturn:
        self._discard(producer)
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
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(timeout=self._timeout_s)
            producer.close(timeout=self._timeout_s)


def _close_quietly(producer: KafkaProducer, wait_s: float = 0.0) -> None:
    """Closes ``producer``, waiting up to ``wait_s`` for its buffered records to be acknowledged or to expire.

    kafka-python's ``close()`` flushes first, and a flush that times out raises before the producer's I/O
    thread is stopped: that thread would then reconnect to the broker for the life of the process.
    """
    try:
        producer.close(timeout=wait_s)
    except KafkaError:
        # Records still buffered were answered 503 (GitHub's redelivery brings them back): drop them. An
        # idempotent producer whose broker went away waits in its I/O thread for a new producer id, and
        # only notices the close when a broker answers again; then the close completes (so that the
        # producer's __del__ has nothing left to flush and no traceback to print).
        sender = producer._sender  # noqa: SLF001 - kafka-python has no public way to close without a flush
        sender.force_close()
        sender.join()
        with suppress(KafkaError):
            producer.close(timeout=0)


class _KafkaAcks:
    def __init__(self, futures: list[Any], timeout_s: float, failed: Callable[[KafkaError], NoReturn]) -> None:
        self._futures = futures
        self._timeout_s = timeout_s
        self._failed = failed

    def wait(self, deadline: float | None = None) -> int:
        """Every ack, each within ``timeout_s``, or all by ``deadline`` (``time.monotonic()``) when given."""
        try:
            for future in self._futures:
                timeout = self._timeout_s if deadline is None else max(0.0, deadline - time.monotonic())
                future.get(timeout=timeout)
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
