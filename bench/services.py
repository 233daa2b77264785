"""Kafka and Postgres of a benchmark's own, on free ports, under .local; removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.process import free_port
from devstack.stack import LocalServices

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def bench_services(name: str, **options: Any) -> Iterator[tuple[Path, LocalServices]]:
    root = REPO / ".local" / f"{name}-{uuid.uuid4().hex[:8]}"
    services = LocalServices(root, kafka_port=free_port(), controller_port=free_port(), pg_port=free_port(),
                             **options)
    try:
        services.start()
        yield root, services
    finally:
        services.stop()
        services.remove()
