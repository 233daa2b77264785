"""Headless Chromium on Superset dashboards, from the project's side: starts :mod:`dashboards.browser` under
Superset's virtualenv and sends it commands, one JSON line each."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from dashboards import SUPERSET_VENV

BROWSER_SCRIPT = Path(__file__).resolve().parent / "browser.py"


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, venv: Path = SUPERSET_VENV, log_path: Path | None = None) -> None:
        self._stderr = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [str(venv / "bin" / "python"), str(BROWSER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._read(timeout=120)  # {"ready": true}

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise BrowserError(
                f"no answer from the browser within {timeout:.0f}s (exit code {self.proc.poll()})"
            )
        answer: dict[str, Any] = json.loads(box[0])
        if not answer.get("ok"):
            raise BrowserError(answer.get("error", "unknown error"))
        return answer

    def call(self, cmd: str, timeout: float = 300, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()  # type: ignore[union-attr]

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
