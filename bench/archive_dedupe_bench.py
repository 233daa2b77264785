"""What one archive line per delivery id costs the archiver: batches written per second with the per-partition
index of archived delivery ids (stream_processors/archive_dedupe.py) and without it, on the file store.

Run: .venv/bin/python bench/archive_dedupe_bench.py [--events 60000] [--batch 500] [--segments 20000]

Prints events/s without the index (the baseline, measured in the same run), with it, and their ratio; then
the same with a long day behind it (``--segments`` segments already in today's index folder: every batch
lists the folder after the last name it saw), and how long a worker taking over a partition with that day
behind it needs to load the partition's index (compactions plus the segments since the last one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.synthetic import envelopes  # noqa: E402
from stream_processors.archive_dedupe import DeliveryIndex  # noqa: E402
from stream_processors.archive_store import FileStore  # noqa: E402
from stream_processors.archiver import Consumed, archive_batch  # noqa: E402

PARTITIONS = 6


class NoIndex:
    """The baseline: every record is archived (the archiver before redeliveries were recognised)."""

    def claim(self, topic: str, partition: int, records: Sequence[Consumed]) -> list[Consumed]:
        return list(records)


def rate(records: list[Consumed], batch: int, index: object, root: Path) -> float:
    store = FileStore(root)
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        archive_batch(store, records[start:start + batch], index)  # type: ignore[arg-type]
    return len(records) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--segments", type=int, default=20_000, help="segments already in today's index folder")
    args = parser.parse_args()
    records = [Consumed("raw", i % PARTITIONS, i, e) for i, e in enumerate(envelopes(args.events))]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = rate(records, args.batch, NoIndex(), root / "baseline")
        deduped = rate(records, args.batch, DeliveryIndex(FileStore(root / "deduped")), root / "deduped")
        print(f"archive, {args.events} events in batches of {args.batch} over {PARTITIONS} partitions (file store)")
        print(f"  without the index: {base:,.0f} events/s")
        print(f"  with the index:    {deduped:,.0f} events/s  (ratio {deduped / base:.2f})")

        # A long day: many small batches of partition 0 archived before, by another process.
        busy = FileStore(root / "busy")
        earlier = DeliveryIndex(busy)
        offset = 10**9
        for _ in range(args.segments):
            record = records[0]
            archive_batch(busy, [Consumed("raw", 0, offset, record.envelope.__class__(
                **{**{f: getattr(record.envelope, f) for f in record.envelope.__dataclass_fields__},
                   "delivery_id": f"earlier-{offset}"}))], earlier)
            offset += 1
        started = time.perf_counter()
        taking_over = DeliveryIndex(busy)
        taking_over.claim("raw", 0, [])
        load = time.perf_counter() - started
        late = [Consumed("raw", r.partition, offset + r.offset, r.envelope) for r in records]
        busy_rate = rate(late, args.batch, taking_over, root / "busy")
        print(f"  with {args.segments:,} segments already today: {busy_rate:,.0f} events/s "
              f"(ratio {busy_rate / base:.2f}); loading partition 0's index took {load:.2f} s")


if __name__ == "__main__":
    main()
