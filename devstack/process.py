"""Child processes that cannot outlive their parent, and small waiting helpers."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pillarstream.lifetime import die_with_parent

_PR_SET_CHILD_SUBREAPER = 36


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def port_busy(port: int) -> bool:
    """Whether a server holds the port: binding it is the sure test (connections in TIME_WAIT do not count, as for
    the servers themselves, which all set SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return port_open(port)


def port_owner(port: int) -> str | None:
    """``"name (pid N)"`` of the process listening on a local TCP port, when /proc lets us see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                return f"{name} (pid {pid})"
        except OSError:  # gone, or another user's process we may not inspect
            continue
    return None


def _preexec(death_signal: int, user: str | None) -> Callable[[], None]:
    def run() -> None:
        # Own process group: Ctrl-C at the terminal reaches the supervisor only, which stops children in order.
        os.setpgid(0, 0)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        # If the supervisor dies, even by kill -9, the kernel signals this child: nothing is left behind.
        die_with_parent(death_signal)
    return run


class Child:
    """One supervised process with its log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, stop_signal: int = signal.SIGTERM, user: str | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._spec = (list(argv), env, cwd, user)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(argv), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, preexec_fn=_preexec(stop_signal, user))

    def respawn(self) -> Child:
        """The same command started again, with the same log, environment, folder and user."""
        argv, env, cwd, user = self._spec
        return Child(self.name, argv, self.log_path, env=env, cwd=cwd, stop_signal=self.stop_signal, user=user)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None  # poll() also reaps a dead child: no <defunct> left behind

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def exit_description(self) -> str:
        """``"exit 1"`` or ``"killed by SIGKILL"``."""
        code = self.proc.returncode
        if code is None:
            return "running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit {code}"

    def kill(self) -> None:
        """kill -9, for crash tests."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self._log.closed:
            return
        if self.alive():
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def last_error(self) -> str:
        """The last line of the log that reads like an error (FATAL, ERROR, Exception), else the last line."""
        lines = [line.strip() for line in self.tail(200).splitlines() if line.strip()]
        markers = ("FATAL", "ERROR", "PANIC", "Error:", "Exception", "error:")
        for line in reversed(lines):
            if any(marker in line for marker in markers):
                return line
        return lines[-1] if lines else "(no output)"


def become_subreaper() -> None:
    """Orphans of our children (a killed gunicorn's workers, a killed postmaster's backends) become ours to reap,
    instead of lingering as <defunct> under an init that may not reap them (containers)."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)


def reap_orphans(known: Iterable[Child]) -> list[int]:
    """Reap exited processes that are not one of ``known`` (those are reaped by their own ``poll()``)."""
    ours = {child.pid for child in known}
    reaped: list[int] = []
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return reaped
        if info is None or info.si_pid == 0:
            return reaped
        if info.si_pid in ours:  # leave it for Popen, which records its exit status
            return reaped
        os.waitpid(info.si_pid, os.WNOHANG)
        reaped.append(info.si_pid)


class StartError(RuntimeError):
    """A service did not start; the message is one line: what, why (the service's own words), where the log is."""


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, child: Child | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise StartError(f"{child.name} exited ({child.exit_description()}) while waiting for {what}: "
                             f"{child.last_error()}  (log: {child.log_path})")
        if check():
            return
        time.sleep(0.2)
    where = f": {child.last_error()}  (log: {child.log_path})" if child else ""
    raise StartError(f"timed out after {timeout:.0f}s waiting for {what}{where}")
