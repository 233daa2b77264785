"""The warehouse sink: one Postgres transaction per batch (or per group of batches that queued up for the
writer, ``group_writer.py``), every statement idempotent.

A batch is written in a fixed sequence of set-based statements, none per row:

1. the delivery log (the dedupe point and the delivery-gap figure);
2. normalised facts and entity state, one upsert per table (stream_processors/facts.py);
3. the metric buckets of every (UTC day, repository) the batch touched, deleted and recomputed from the
   facts (sql/buckets.sql). "Touched" is measured before and after the upserts, so a bucket a row leaves
   (a reopened pull request's old close day) is rebuilt as well as the one it enters;
4. the keys of the materialised windows those buckets are part of, queued in the same transaction, and
   the windows themselves rebuilt in it (``windows=True``) or, in the worker, beside it by the window
   maintainer (``windows.py``).

A record that cannot be decoded or normalised (:class:`PayloadError`: a value the warehouse cannot store,
a missing id) becomes a :class:`DeadLetter`: it is left out of the batch, and stored in ``dead_letters``
in the same transaction as the rest, so its offset moves on with the batch's. A record Postgres itself
refuses is isolated by the worker (``isolation.py``) and stored the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NamedTuple

import orjson
import psycopg2
import psycopg2.extras

from adapters.postgres import ReconnectingConnection
from pillarstream.config import PillarConfig, load_pillar_config
from pillarstream.envelope import ENVELOPE_HEADER, Envelope, from_record
from pillarstream.normalise import Facts, PayloadError, normalise
from stream_processors.archiver import Consumed, RawRecord
from stream_processors.facts import Statement, json_rows, keys, named_queries, upserts
from stream_processors.windows import buckets_present, enqueue_buckets, refresh_windows

log = logging.getLogger(__name__)
Bucket = tuple[date, int]

_DELIVERY_COLUMNS = ("delivery_id", "event", "action", "source", "received_at", "org", "repo_id", "repo_full_name",
                     "hook_id", "payload_bytes", "kafka_partition", "kafka_offset")
_INSERT_DELIVERIES = f"""
    INSERT INTO deliveries ({", ".join(_DELIVERY_COLUMNS)})
    SELECT {", ".join(_DELIVERY_COLUMNS)} FROM json_populate_recordset(NULL::deliveries, %s)
    ON CONFLICT (delivery_id) DO NOTHING
"""


_INSERT_DEAD_LETTERS = """
    INSERT INTO dead_letters (delivery_id, event, error, envelope, payload, kafka_topic, kafka_partition,
                              kafka_offset)
    VALUES %s
    ON CONFLICT (delivery_id) DO UPDATE
        SET error = excluded.error, last_seen = now(), attempts = dead_letters.attempts + 1
        WHERE dead_letters.resolved_at IS NULL
"""
_MAX_ERROR_CHARS = 1000


class DeadLetter(NamedTuple):
    """A record left out of the warehouse, with what is needed to retry it: the Kafka record as read."""

    delivery_id: str
    event: str | None
    error: str
    envelope: bytes  # the record's envelope header (JSON), as consumed
    payload: bytes  # the record's value: the payload bytes as received
    topic: str
    partition: int
    offset: int


def dead_letter(raw: RawRecord, error: str) -> DeadLetter:
    """A dead letter for a Kafka record, even one whose envelope header cannot be read: its delivery id and
    event come from the header when they can, else the id is the record's Kafka position."""
    topic, partition, offset, value, headers = raw
    header = next((v for k, v in (headers.items() if isinstance(headers, dict) else headers or ())
                   if k == ENVELOPE_HEADER), None)
    delivery_id, event = f"kafka:{topic}:{partition}:{offset}", None
    try:
        meta = orjson.loads(header) if header is not None else None
    except orjson.JSONDecodeError:
        meta = None
    if isinstance(meta, dict):
        if isinstance(meta.get("delivery_id"), str) and meta["delivery_id"]:
            delivery_id = meta["delivery_id"]
        event = meta["event"] if isinstance(meta.get("event"), str) else None
    return DeadLetter(_storable(delivery_id, 200), None if event is None else _storable(event, 200),
                      _storable(error, _MAX_ERROR_CHARS), bytes(header or b""), bytes(value), topic, partition, offset)


def _storable(value: str, limit: int) -> str:
    """Text Postgres can store and a log can show: NULs and lone surrogates escaped, length bounded."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _rejected(record: Consumed, error: str) -> DeadLetter:
    return dead_letter((record.topic, record.partition, record.offset, record.envelope.payload,
                        [(ENVELOPE_HEADER, _header_of(record.envelope))]), error)


def _header_of(envelope: Envelope) -> bytes:
    try:
        return orjson.dumps(envelope.metadata(), option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a string orjson cannot encode (a lone surrogate): keep what can be kept
        return orjson.dumps({"delivery_id": _storable(envelope.delivery_id, 200),
                             "event": _storable(envelope.event, 200)})


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
    dead_letters: list[DeadLetter]  # the batch's records that are left out


def prepare_raw(records: Sequence[RawRecord], config: PillarConfig | None = None) -> PreparedBatch:
    """:func:`prepare` for records as read from Kafka; one whose envelope cannot be decoded is a dead letter."""
    decoded: list[Consumed] = []
    rejected: list[DeadLetter] = []
    for raw in records:
        topic, partition, offset, value, headers = raw
        try:
            decoded.append(Consumed(topic, partition, offset, from_record(value, headers)))
        except (ValueError, TypeError, KeyError) as exc:  # orjson's errors are ValueErrors
            rejected.append(dead_letter(raw, f"envelope not readable: {type(exc).__name__}: {exc}"))
    return prepare(decoded, config, rejected)


def prepare(records: Sequence[Consumed], config: PillarConfig | None = None,
            rejected: Sequence[DeadLetter] = ()) -> PreparedBatch:
    """Everything a batch will write, worked out without Postgres. A record that cannot be normalised is
    a dead letter, not a failure of the batch."""
    config = config or default_config()
    kept: list[tuple[Consumed, tuple[Any, ...]]] = []
    facts = Facts()  # extended as it goes: holding each record's facts apart measured ~20% slower (GC)
    dead = list(rejected)
    seen: set[str] = set()
    for r in records:  # a batch may hold the same delivery twice (redelivery); keep the first
        e = r.envelope
        if e.delivery_id in seen:
            continue
        seen.add(e.delivery_id)
        try:
            facts.extend(normalise(e, config))
        except PayloadError as exc:
            dead.append(_rejected(r, str(exc)))
            continue
        except Exception as exc:  # a normaliser's bug stops one record, not the stream; retried after the fix
            log.exception("normaliser failed", extra={"delivery_id": e.delivery_id, "event": e.event})
            dead.append(_rejected(r, f"normaliser failed: {type(exc).__name__}: {exc}"))
            continue
        kept.append((r, (e.delivery_id, e.event, e.action, e.first_source, e.received_at, e.org, e.repo_id,
                         e.repo_full_name, e.hook_id, len(e.payload), r.partition, r.offset)))
    try:
        return _render([row for _, row in kept], facts, dead)
    except (TypeError, ValueError):  # a value JSON cannot render (the field checks should catch all): find whose
        survivors, facts = [], Facts()
        for record, row in kept:
            try:
                found = normalise(record.envelope, config)
                _render([row], found, [])
            except (TypeError, ValueError) as exc:
                dead.append(_rejected(record, f"rows not renderable as JSON: {type(exc).__name__}: {exc}"))
            else:
                survivors.append(row)
                facts.extend(found)
        return _render(survivors, facts, dead)


def dead_letters_only(letters: list[DeadLetter]) -> PreparedBatch:
    """A batch that writes nothing but dead letters."""
    return _render([], Facts(), letters)


def _render(rows: list[tuple[Any, ...]], facts: Facts, dead: list[DeadLetter]) -> PreparedBatch:
    known = {(_utc_day(p.pushed_at), p.repo_id) for p in facts.pushes}
    known |= {(_utc_day(s.created_at), s.repo_id) for s in facts.deployment_statuses}
    return PreparedBatch((_INSERT_DELIVERIES, (json_rows(_DELIVERY_COLUMNS, rows),)),
                         upserts(facts), _touch_params(facts), sorted(known), dead)


def write_prepared(cur: psycopg2.extensions.cursor, batches: Sequence[PreparedBatch], *,
                   windows: bool = True) -> None:
    """Everything the prepared batches change, inside the caller's transaction, with one bucket recompute
    for all of them. ``windows``: bring the materialised windows up to date in the same transaction; else
    their keys stay queued, committed with the buckets, for the worker's window maintainer (``windows.py``)."""
    for batch in batches:
        cur.execute(*batch.deliveries)
        if batch.dead_letters:
            psycopg2.extras.execute_values(cur, _INSERT_DEAD_LETTERS, [
                (d.delivery_id, d.event, d.error, d.envelope, d.payload, d.topic, d.partition, d.offset)
                for d in batch.dead_letters])
    with_facts = [batch for batch in batches if batch.facts]
    if with_facts:
        write_facts_and_buckets(cur, with_facts, windows=windows)
    elif windows:
        refresh_windows(cur)  # keys queued by another writer of the tables (a language changed by hand)


def write_batch(cur: psycopg2.extensions.cursor, records: Sequence[Consumed],
                config: PillarConfig | None = None, *, windows: bool = True) -> None:
    """Everything one batch changes, inside the caller's transaction."""
    write_prepared(cur, [prepare(records, config)], windows=windows)


def write_facts_and_buckets(cur: Any, batches: Sequence[PreparedBatch], *, windows: bool = True) -> None:
    queries = named_queries("buckets.sql")
    touch = {key: [value for batch in batches for value in batch.touch[key]] for key in batches[0].touch}
    lead_time = bool(touch["commit_repos"] or touch["status_node_ids"])
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
        recompute_buckets(cur, touched, windows=windows)
    elif windows:
        refresh_windows(cur)  # a language change queues windows without touching buckets


def recompute_buckets(cur: Any, buckets: Iterable[Bucket], *, windows: bool = True) -> None:
    """Rebuild every metric bucket of the given (day, repository) pairs from the facts, queue the keys of
    the windows they are part of and, with ``windows``, bring those windows up to date."""
    queries = named_queries("buckets.sql")
    ordered = sorted(set(buckets))  # a stable order keeps concurrent writers' row locks in one order
    params = {"days": [d for d, _ in ordered], "repos": [r for _, r in ordered]}
    cur.execute(queries["lock_repositories"], params)
    before = buckets_present(cur, params)  # the old buckets' grains are queued too (a bucket may be gone)
    cur.execute(queries["delete_buckets"], params)
    cur.execute(queries["insert_buckets"], params)
    enqueue_buckets(cur, params, before)
    if windows:
        refresh_windows(cur)


def _touch_params(facts: Facts) -> dict[str, list[Any]]:
    commit_repos, commit_shas = keys(facts, "commits", "repo_id", "sha")
    pr_ids = {row.pr_id for row in facts.pull_requests} | {row.pr_id for row in facts.pull_request_reviews}
    pr_ids |= {row.pr_id for row in facts.pull_request_events}
    return {
        "commit_repos": list(commit_repos), "commit_shas": list(commit_shas), "pr_ids": sorted(pr_ids),
        "check_run_ids": [row.check_run_id for row in facts.check_runs],
        "run_ids": [row.run_id for row in facts.workflow_runs],
        "issue_ids": [row.issue_id for row in facts.issues],
        "status_node_ids": [row.node_id for row in facts.deployment_statuses],
    }


def _fetch_buckets(cur: Any, query: str, params: dict[str, list[Any]]) -> set[Bucket]:
    cur.execute(query, params)
    return {(day, repo_id) for day, repo_id in cur.fetchall()}


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class PostgresSink:
    """Writes prepared batches over one connection, in one transaction each; a lost connection is dropped and
    reopened on the next. Failures are raised as classified by ``adapters/postgres_errors.py``: transient
    ones are retriable."""

    def __init__(self, dsn: str, *, windows: bool = True, name: str = "pillarstream writer") -> None:
        self._db = ReconnectingConnection(dsn, connect_timeout=5, application_name=name)
        self._windows = windows  # False: window keys stay queued for a WindowMaintainer

    def write_prepared(self, batches: Sequence[PreparedBatch]) -> None:
        with self._db.transaction() as cur:
            write_prepared(cur, batches, windows=self._windows)

    def close(self) -> None:
        self._db.close()
