"""Run the receiver under gunicorn (``pillarstream receiver``), configured from settings.

The gthread worker (4 processes x 8 threads on 2 cores) was chosen by ``bench/receiver_bench.py``: each
request blocks on Kafka's acknowledgement, so threads overlap those waits at little cost, and one producer
per process batches the records of concurrent requests together.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from pillarstream.logs import formatter
from pillarstream.settings import Settings
from receiver.metrics import multiprocess_hooks


class ReceiverServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, bind: str, workers: int, threads: int) -> None:
        self._settings = settings
        self._options = {
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            # A gthread worker accepts connections whether or not it has a free thread, so one process can
            # take most of a burst (stalled uploads, say) and queue it behind its own threads while the
            # others idle. Capped, a worker leaves the rest in the listen backlog for the others; the
            # second half of the cap is for kept-alive connections (gunicorn closes the ones beyond).
            "worker_connections": threads * 2,
            "timeout": 30,
            "graceful_timeout": 15,
            "keepalive": 5,
            "accesslog": None,
            "limit_request_field_size": 16384,
            "worker_exit": _flush_on_exit,
            **multiprocess_hooks(),  # /metrics adds up every worker
            "loglevel": settings.log_level.lower(),
            "logger_class": _logger_class(settings.log_format),
            # gunicorn >= 25.1 opens a control socket at ~/.gunicorn/gunicorn.ctl, one path for every
            # receiver of the user: one stopping removed another's. Nothing here uses it (gunicornc).
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:  # control_socket_disable is unknown to (and not needed by) gunicorn < 25.1
                self.cfg.set(key, value)

    def load(self) -> Any:
        from receiver.app import create_app

        return create_app(self._settings)


def _logger_class(fmt: str) -> type[Logger]:
    """gunicorn's own lines (start, workers booting and exiting) in the project's ``LOG_FORMAT``."""

    class ProjectLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(formatter(fmt))
                    handler.addFilter(_plain_gunicorn_name)

    return ProjectLogger


def _plain_gunicorn_name(record: logging.LogRecord) -> bool:
    """gunicorn logs everything, "Booting worker" included, as ``gunicorn.error``: named ``gunicorn`` here, so
    a search of the logs for errors finds errors."""
    if record.name == "gunicorn.error":
        record.name = "gunicorn"
    return True


def _flush_on_exit(server: Any, worker: Any) -> None:
    """Graceful shutdown: wait for in-flight records before the worker exits."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        app.extensions["pillarstream"]["publisher"].close()
