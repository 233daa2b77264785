"""The receiver's /metrics over all gunicorn workers: prometheus_client's multiprocess mode.

Each worker process keeps its own counters; without this a scrape shows whichever worker answered it, so
totals jump between scrapes. In multiprocess mode every worker writes its values to memory-mapped files in
one folder (``PROMETHEUS_MULTIPROC_DIR``) and a scrape adds them up. The folder is made fresh for each run
(values of an earlier run must not count), and a worker that exits has its live gauges removed.

The gunicorn master sets this up before it forks (:func:`multiprocess_hooks`); apps created outside gunicorn
(tests, the in-process bench) keep their own registry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_hooks() -> dict[str, Any]:
    """Gunicorn settings that turn multiprocess mode on; call in the master, before workers exist."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # only prometheus_client's files: the folder may be shared
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="pillarstream-metrics-"))
        os.environ[MULTIPROC_DIR] = str(folder)

    def post_fork(server: Any, worker: Any) -> None:
        # The master imported prometheus_client before the variable was set (the CLI imports the receiver
        # package), so its choice of value class is re-made here, before the worker creates its metrics.
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    def on_exit(server: Any) -> None:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)

    return {"post_fork": post_fork, "child_exit": child_exit, "on_exit": on_exit}


def exposition(own: CollectorRegistry) -> bytes:
    """The text a scrape gets: the sum over every worker in multiprocess mode, else this app's registry."""
    if not os.environ.get(MULTIPROC_DIR):
        return generate_latest(own)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
