"""A small HTTP load generator (aiohttp): closed loop at fixed concurrency, or open loop at a fixed rate."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass

import aiohttp


@dataclass
class Result:
    sent: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def line(self, name: str) -> str:
        return (f"{name:<28} {self.rate:8.0f} deliveries/s   p50 {self.pct(0.5):7.1f} ms   "
                f"p99 {self.pct(0.99):7.1f} ms   statuses {dict(sorted(self.statuses.items()))}")


async def _one(session: aiohttp.ClientSession, url: str, item: tuple[str, bytes, str], result: Result) -> None:
    event, body, signature = item
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-Hub-Signature-256": signature,
               "X-GitHub-Delivery": str(uuid.uuid4())}
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as answer:
        await answer.read()
        result.statuses[answer.status] = result.statuses.get(answer.status, 0) + 1
    result.latencies_ms.append((time.perf_counter() - started) * 1000)


async def closed_loop(url: str, mix: list[tuple[str, bytes, str]], concurrency: int, seconds: float) -> Result:
    result = Result(0, 0.0, [], {})
    items = itertools.cycle(mix)
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def user() -> None:
            while time.perf_counter() < deadline:
                await _one(session, url, next(items), result)
        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    result.sent = len(result.latencies_ms)
    return result


async def open_loop(url: str, mix: list[tuple[str, bytes, str]], rate: float, seconds: float) -> Result:
    """Requests start on schedule whatever the answers do, so queueing shows up in the latency."""
    result = Result(0, 0.0, [], {})
    items = itertools.cycle(mix)
    total = int(rate * seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:
        started = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(session, url, next(items), result)))
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - started
    result.sent = len(result.latencies_ms)
    return result

