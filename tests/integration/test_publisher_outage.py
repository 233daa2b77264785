"""A producer dropped when the broker dies under load stops its I/O thread once the broker is back."""

from __future__ import annotations

import shutil
import threading
import time
import uuid

import pytest
from kafka.producer.sender import Sender

from adapters.kafka_publisher import KafkaPublisher, ensure_topic
from devstack.kafka import KafkaBroker
from devstack.process import free_port
from pillarstream.envelope import Envelope
from pillarstream.errors import PublishError
from tests.conftest import REPO
from tests.harness import eventually
from tests.synthetic import envelopes

pytestmark = pytest.mark.integration


def live_senders() -> list[Sender]:
    """The I/O threads of every kafka-python producer alive in this process."""
    return [thread for thread in threading.enumerate() if isinstance(thread, Sender) and thread.is_alive()]


def test_a_producer_dropped_in_an_outage_stops_its_io_thread():
    broker = KafkaBroker(REPO / ".local" / f"dropped-{uuid.uuid4().hex[:8]}", REPO / ".local" / "cache",
                         free_port(), free_port(), heap="256m")
    broker.start()
    publisher = KafkaPublisher(broker.bootstrap, "dropped", timeout_s=2)
    try:
        ensure_topic(broker.bootstrap, "dropped", 3, 1)
        batch = list(envelopes(40))
        publisher.publish(batch[0])
        before = len(live_senders())

        # Requests in flight when the broker is killed: the producer fails and is dropped, with records
        # still buffered, and its I/O thread is left waiting for a new producer id.
        def publish(envelope: Envelope) -> None:
            try:
                publisher.publish(envelope)
            except PublishError:
                pass

        threads = [threading.Thread(target=publish, args=(envelope,)) for envelope in batch[1:]]
        for i, thread in enumerate(threads):
            thread.start()
            if i == 5:
                broker.kill()  # kill -9
            time.sleep(0.02)
        for thread in threads:
            thread.join()
        broker.stop()  # the process is dead already: this closes its log
        time.sleep(5)  # an outage: every buffered record has expired (timeout 2 s)

        broker.start()
        eventually(lambda: _published(publisher, batch[-1]), timeout=30, what="a publish after the restart")
        # Only the new producer's I/O thread runs: the dropped one's used to stay, reconnecting, one more per
        # outage in each gunicorn worker.
        eventually(lambda: len(live_senders()) == before, timeout=15, interval=0.5,
                   what=f"{before} producer I/O thread(s) left, not {len(live_senders())}")
    finally:
        publisher.close()
        broker.stop()
        shutil.rmtree(broker.data_dir, ignore_errors=True)


def _published(publisher: KafkaPublisher, envelope: Envelope) -> bool:
    try:
        publisher.publish(envelope)
        return True
    except PublishError:
        return False
