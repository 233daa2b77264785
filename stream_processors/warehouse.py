"""The warehouse sink: one Postgres transaction per batch (or per group of batches that queued up for the
writer, ``group_writer.py``), every statement idempotent.

A batch is written in a fixed sequence of set-based statements, none per row:

1. the delivery log (the dedupe point and the delivery-gap figure);
2. normalised facts and entity state, one upsert per table (stream_processors/facts.py);
3. the metric buckets of every (UTC day, repository) the batch touched, deleted and recomputed from the
   facts (sql/buckets.sql). "Touched" is measured before and after the upserts, so a bucket a row leaves
   (a reopened pull request's old close day) is rebuilt as well as the one it enters;
4. the materialised windows those buckets are part of (``windows.py``), in the same transaction (past
   days' windows wait a few seconds under a backlog, their keys queued in that transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import psycopg2

from pillarstream.config import PillarConfig, load_pillar_config
from pillarstream.errors import WarehouseError
from pillarstream.normalise import Facts, PayloadError, normalise
from stream_processors.archiver import Consumed
from stream_processors.facts import Statement, json_rows, keys, named_queries, upserts
from stream_processors.windows import enqueue_buckets, refresh_windows

log = logging.getLogger(__name__)
Bucket = tuple[date, int]

_DELIVERY_COLUMNS = ("delivery_id", "event", "action", "source", "received_at", "org", "repo_id", "repo_full_name",
                     "hook_id", "payload_bytes", "kafka_partition", "kafka_offset")
_INSERT_DELIVERIES = f"""
    INSERT INTO deliveries ({", ".join(_DELIVERY_COLUMNS)})
    SELECT {", ".join(_DELIVERY_COLUMNS)} FROM json_populate_recordset(NULL::deliveries, %s)
    ON CONFLICT (delivery_id) DO NOTHING
"""


@cache
def default_config() -> PillarConfig:
    """The repository's configs/pillars.json, read once on first use (never at import)."""
    return load_pillar_config()


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch after all its CPU work and before any Postgres round trip.

    The rows are already JSON, so the worker prepares the next batch in its normalising process
    (``prepare_process.py``) while the current one is written, and the writer only sends statements.
    """

    deliveries: Statement  # the delivery-log insert
    facts: list[Statement]  # one upsert per non-empty fact table
    touch: dict[str, list[Any]]  # keys that find the (day, repository) buckets the facts leave or enter
    known_buckets: list[Bucket]  # buckets the facts name themselves (pushes, deployment statuses)


def prepare(records: Sequence[Consumed], config: PillarConfig | None = None) -> PreparedBatch:
    """Everything a batch will write, worked out without Postgres."""
    rows: dict[str, tuple[Any, ...]] = {}
    firsts: list[Consumed] = []
    for r in records:  # a batch may hold the same delivery twice (redelivery); keep the first
        e = r.envelope
        if e.delivery_id in rows:
            continue
        rows[e.delivery_id] = (
            e.delivery_id, e.event, e.action, e.first_source, e.received_at, e.org, e.repo_id,
            e.repo_full_name, e.hook_id, len(e.payload), r.partition, r.offset)
        firsts.append(r)
    facts = normalise_batch(firsts, config or default_config())
    known = {(_utc_day(p.pushed_at), p.repo_id) for p in facts.pushes}
    known |= {(_utc_day(s.created_at), s.repo_id) for s in facts.deployment_statuses}
    return PreparedBatch((_INSERT_DELIVERIES, (json_rows(_DELIVERY_COLUMNS, list(rows.values())),)),
                         upserts(facts), _touch_params(facts), sorted(known))


def write_prepared(cur: psycopg2.extensions.cursor, batches: Sequence[PreparedBatch]) -> None:
    """Everything the prepared batches change, inside the caller's transaction, with one bucket recompute
    for all of them."""
    for batch in batches:
        cur.execute(*batch.deliveries)
    with_facts = [batch for batch in batches if batch.facts]
    if with_facts:
        # Batches that queued up for the writer mean a backlog: windows of past days may wait (windows.py).
        write_facts_and_buckets(cur, with_facts, backlog=len(with_facts) > 1)
    else:
        refresh_windows(cur)  # an empty batch (the worker's idle tick) takes what waited


def write_batch(cur: psycopg2.extensions.cursor, records: Sequence[Consumed],
                config: PillarConfig | None = None) -> None:
    """Everything one batch changes, inside the caller's transaction."""
    write_prepared(cur, [prepare(records, config)])


def normalise_batch(records: Iterable[Consumed], config: PillarConfig) -> Facts:
    """All facts of a batch. A payload that cannot be normalised is logged and skipped, not fatal: its
    delivery row is kept, and a replay after a fix re-derives it (stopping the worker would block the
    partition on one bad event)."""
    facts = Facts()
    for record in records:
        try:
            facts.extend(normalise(record.envelope, config))
        except PayloadError as exc:
            e = record.envelope
            log.warning("payload not normalised", extra={
                "delivery_id": e.delivery_id, "event": e.event, "repo": e.repo_full_name, "error": str(exc)})
    return facts


def write_facts_and_buckets(cur: Any, batches: Sequence[PreparedBatch], *, backlog: bool = False) -> None:
    queries = named_queries("buckets.sql")
    touch = {key: [value for batch in batches for value in batch.touch[key]] for key in batches[0].touch}
    lead_time = bool(touch["commit_repos"] or touch["status_ids"])
    touched = _fetch_buckets(cur, queries["touched_days"], touch)  # days rows may leave
    if lead_time:  # deployments that shipped the changed commits before
        touched |= _fetch_buckets(cur, queries["touched_lead_time_days"], touch)
    for batch in batches:
        for statement in batch.facts:
            cur.execute(*statement)
    touched |= _fetch_buckets(cur, queries["touched_days"], touch)  # days rows enter
    if lead_time:  # deployments that ship them now
        touched |= _fetch_buckets(cur, queries["touched_lead_time_days"], touch)
    touched.update(bucket for batch in batches for bucket in batch.known_buckets)
    if touched:
        recompute_buckets(cur, touched, backlog=backlog)
    else:
        refresh_windows(cur, backlog=backlog)  # a language change queues windows without touching buckets


def recompute_buckets(cur: Any, buckets: Iterable[Bucket], *, backlog: bool = False) -> None:
    """Rebuild every metric bucket of the given (day, repository) pairs from the facts, and the windows
    they are part of."""
    queries = named_queries("buckets.sql")
    ordered = sorted(set(buckets))  # a stable order keeps concurrent writers' row locks in one order
    params = {"days": [d for d, _ in ordered], "repos": [r for _, r in ordered]}
    cur.execute(queries["lock_repositories"], params)
    enqueue_buckets(cur, params)  # the grains the old buckets roll into
    cur.execute(queries["delete_buckets"], params)
    cur.execute(queries["insert_buckets"], params)
    enqueue_buckets(cur, params)  # and the new ones
    refresh_windows(cur, backlog=backlog)


def _touch_params(facts: Facts) -> dict[str, list[Any]]:
    commit_repos, commit_shas = keys(facts, "commits", "repo_id", "sha")
    pr_ids = {row.pr_id for row in facts.pull_requests} | {row.pr_id for row in facts.pull_request_reviews}
    pr_ids |= {row.pr_id for row in facts.pull_request_events}
    return {
        "commit_repos": list(commit_repos), "commit_shas": list(commit_shas), "pr_ids": sorted(pr_ids),
        "check_run_ids": [row.check_run_id for row in facts.check_runs],
        "run_ids": [row.run_id for row in facts.workflow_runs],
        "issue_ids": [row.issue_id for row in facts.issues],
        "status_ids": [row.status_id for row in facts.deployment_statuses],
    }


def _fetch_buckets(cur: Any, query: str, params: dict[str, list[Any]]) -> set[Bucket]:
    cur.execute(query, params)
    return {(day, repo_id) for day, repo_id in cur.fetchall()}


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class PostgresSink:
    """Writes prepared batches over one connection; a lost connection is dropped and reopened on the next."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg2.extensions.connection | None = None

    def write_prepared(self, batches: Sequence[PreparedBatch]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg2.connect(self._dsn, connect_timeout=5)
            with self._conn, self._conn.cursor() as cur:
                write_prepared(cur, batches)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            self.close()
            raise WarehouseError(f"Postgres unavailable: {str(exc).strip()}") from exc  # retriable
        except psycopg2.Error as exc:
            error = WarehouseError(f"Postgres refused the batch: {str(exc).strip()}")
            error.retriable = False
            raise error from exc

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
