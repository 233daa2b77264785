"""Keeps every process of `pillarstream up` running: a service that dies is reaped, reported and restarted.

Restarts back off (0.5 s, doubling to 30 s) while a service keeps dying soon after it starts, and the delay
resets once it has stayed up for 10 s (so a worker that crash-looped while the broker was down is, once
running again, restarted at once the next time). What happened is kept per service (restart count, last exit) for
the console and for `pillarstream status --json`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devstack.process import Child, reap_orphans

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0
STABLE_AFTER_S = 10.0


@dataclass
class Service:
    """One supervised process: ``launch`` starts it (without waiting for it to be ready) and returns it."""

    name: str
    launch: Callable[[], Child]
    child: Child
    restarts: int = 0
    last_exit: str | None = None
    last_exit_at: float | None = None  # wall-clock time
    delay_s: float = FIRST_DELAY_S
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)  # wall-clock time, for `status` to compute the uptime
    restart_at: float | None = None  # monotonic time of the pending restart, while the service is down

    def state(self) -> dict[str, Any]:
        running = self.restart_at is None and self.child.alive()
        return {"pid": self.child.pid if self.restart_at is None else None,
                "running": running,
                # As of this state's writing; `pillarstream status` recomputes it from started_at when it reads.
                "up_for_s": round(time.monotonic() - self.started, 1) if running else None,
                "started_at": datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="milliseconds"),
                "restarts": self.restarts, "last_exit": self.last_exit,
                "last_exit_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_exit_at))
                if self.last_exit_at else None}


class Supervisor:
    def __init__(self, on_change: Callable[[], None] = lambda: None,
                 say: Callable[[str], None] | None = None) -> None:
        self.services: dict[str, Service] = {}
        self.on_change = on_change
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))

    def adopt(self, name: str, launch: Callable[[], Child], child: Child) -> None:
        """Supervise an already started process; ``launch`` starts it again."""
        self.services[name] = Service(name, launch, child)

    def add(self, name: str, launch: Callable[[], Child]) -> None:
        self.adopt(name, launch, launch())

    def children(self) -> list[Child]:
        return [service.child for service in self.services.values()]

    def state(self) -> dict[str, dict[str, Any]]:
        return {name: service.state() for name, service in self.services.items()}

    def check(self) -> None:
        """One round: notice deaths (which reaps them), start what is due, reap orphans handed to us."""
        changed = False
        now = time.monotonic()
        for service in self.services.values():
            if service.restart_at is None and not service.child.alive():
                changed = True
                self._died(service, now)
            if service.restart_at is not None and now >= service.restart_at:
                changed = True
                self._restart(service)
            elif service.restart_at is None and now - service.started > STABLE_AFTER_S:
                service.delay_s = FIRST_DELAY_S
        reap_orphans(self.children())
        if changed:
            self.on_change()

    def _died(self, service: Service, now: float) -> None:
        service.last_exit = service.child.exit_description()
        service.last_exit_at = time.time()
        service.restart_at = now + service.delay_s
        # A process that exited on its own said why in its log; one killed by a signal did not.
        why = f": {service.child.last_error()}" if (service.child.returncode or 0) > 0 else ""
        self.say(f"{service.name} exited ({service.last_exit}){why}; "
                 f"restarting in {service.delay_s:g}s (log: {service.child.log_path})")
        service.delay_s = min(service.delay_s * 2, MAX_DELAY_S)
        service.child.stop(timeout=0)  # closes its log file; the process is already reaped

    def _restart(self, service: Service) -> None:
        try:
            service.child = service.launch()
        except Exception as exc:  # noqa: BLE001 - a failed launch is retried like a crash, never fatal to `up`
            service.restart_at = time.monotonic() + service.delay_s
            self.say(f"{service.name}: restart failed ({exc}); next try in {service.delay_s:g}s")
            service.delay_s = min(service.delay_s * 2, MAX_DELAY_S)
            return
        service.restart_at = None
        service.restarts += 1
        service.started, service.started_at = time.monotonic(), time.time()
        self.say(f"{service.name} restarted (pid {service.child.pid}, restart {service.restarts})")

    def stop(self) -> None:
        """Stops every service, in reverse order of adoption (clients before the broker and database)."""
        for service in reversed(list(self.services.values())):
            service.child.stop()
