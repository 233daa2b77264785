"""Logging set-up: one JSON object per line in production, plain text for people at a terminal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed with ``extra=`` and belongs in the JSON line.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD)
        return f"{super().format(record)} {extra}".rstrip()


# Client libraries narrate every connection at INFO; their warnings are what an operator needs.
QUIET_LOGGERS = ("kafka", "urllib3", "google")
# kafka-python logs every refused connection attempt as an ERROR and every wait for one as a WARNING, and
# urllib3 each retry of a request as a WARNING; the failure reaches us as an exception (a 503, a one-line
# error), so these speak only at DEBUG.
SILENT_LOGGERS = {"kafka.conn": logging.CRITICAL, "kafka.client": logging.ERROR,
                  "urllib3.connectionpool": logging.ERROR}


def formatter(fmt: str) -> logging.Formatter:
    """The one formatter for ``LOG_FORMAT``; gunicorn's own loggers use it too (receiver/server.py)."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name, quiet in SILENT_LOGGERS.items():
        logging.getLogger(name).setLevel(logging.DEBUG if root.level <= logging.DEBUG else max(quiet, root.level))
