"""Guard for stream_processors/faust_internals.py: what it relies on in faust-streaming is still there and
still the same. A Faust upgrade that changes any of it fails here, naming the part, before a worker ever
commits an offset it should not (commit-after-write) or stalls a fetch (the lean drain)."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import importlib
import inspect
import textwrap
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import faust
import faust.events
import mode.utils.locks
import pytest
from faust.types.tuples import ConsumerMessage
from packaging.requirements import Requirement

from stream_processors import faust_internals
from stream_processors.faust_internals import LeanDrainConsumer, hold, release, use_lean_drain

pytestmark = pytest.mark.unit
FAUST = f"faust-streaming {version('faust-streaming')}"
WHAT_TO_DO = ("stream_processors/faust_internals.py relies on it (see its docstring): read the new code, carry "
              "the change over or drop the part, then update this test")

# What faust_internals calls (module:qualified name), and the parameters it calls it with.
CALLED: dict[str, list[str]] = {
    "faust.transport.consumer:Consumer._drain_messages": ["self", "fetcher"],  # overridden
    "faust.transport.consumer:Consumer.on_buffer_drop": ["self", "tp"],  # overridden
    "faust.transport.consumer:Consumer._get_active_partitions": ["self"],
    "faust.transport.consumer:Consumer._add_gap": ["self", "tp", "offset_from", "offset_to"],
    "faust.transport.consumer:Consumer.getmany": ["self", "timeout"],
    "faust.transport.consumer:Consumer.commit": ["self", "topics", "start_new_transaction"],
    "faust.transport.consumer:Consumer.wait_first": ["self", "coros", "timeout"],
    "faust.transport.drivers.aiokafka:Consumer.__init__": ["self", "args", "kwargs"],
    "faust.streams:Stream.take_events": ["self", "max_", "within"],
    "faust.events:Event.ack": ["self"],
    "faust.types.tuples:Message.incref": ["self", "n"],
    "faust.sensors.base:SensorDelegate.on_message_out": ["self", "tp", "offset", "message"],
}

# Faust code whose behaviour faust_internals copies (the drain loop) or builds on (when acks happen and when
# one is final): a fingerprint of its syntax tree, so comments, docstrings and formatting do not count.
FINGERPRINTS: dict[str, str] = {
    "faust.transport.consumer:Consumer._drain_messages": "534d0366",
    "faust.transport.consumer:Consumer.on_buffer_drop": "cd73cbad",
    "faust.transport.consumer:Consumer._get_active_partitions": "22968d96",
    "faust.streams:Stream.take_events": "216e15df",
    "faust.streams:Stream.ack": "6a9e4b74",
    "faust.types.tuples:Message.ack": "3b6daa7a",
    "faust.types.tuples:Message.incref": "a5c9450d",
}


def resolve(name: str) -> Any:
    module, _, qualified = name.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualified.split("."):
        found = getattr(found, part, None)
        assert found is not None, f"{FAUST}: {name} is gone; {WHAT_TO_DO}"
    return found


def fingerprint(function: Any) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):  # docstrings do not count either
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:8]


def test_the_faust_pin_is_stated_once_and_the_installed_faust_meets_it():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["dependencies"] if Requirement(d).name == "faust-streaming"]
    assert pins == [faust_internals.FAUST_REQUIREMENT], "pyproject.toml and faust_internals.FAUST_REQUIREMENT differ"
    assert Requirement(faust_internals.FAUST_REQUIREMENT).specifier.contains(version("faust-streaming")), FAUST


@pytest.mark.parametrize("name", CALLED)
def test_what_faust_internals_calls_is_still_there_with_the_same_parameters(name):
    parameters = CALLED[name]
    found = list(inspect.signature(resolve(name)).parameters)
    assert found == parameters, f"{FAUST}: {name} now takes ({', '.join(found)}), not ({', '.join(parameters)}); " \
                                f"{WHAT_TO_DO}"


@pytest.mark.parametrize("name", FINGERPRINTS)
def test_the_faust_code_copied_or_built_on_is_unchanged(name):
    function, recorded = resolve(name), FINGERPRINTS[name]
    assert fingerprint(function) == recorded, f"{FAUST}: {name} changed ({inspect.getsourcefile(function)}); " \
                                              f"{WHAT_TO_DO} (its fingerprint is now {fingerprint(function)})"


@pytest.fixture()
def offline_app() -> Iterator[faust.App]:
    """A real Faust app and consumer, never started: nothing connects to the (unreachable) broker."""
    loop = asyncio.new_event_loop()  # the one Faust's services take; closed after
    asyncio.set_event_loop(loop)
    app = faust.App("faust-internals-guard", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False,
                    loop=loop)
    use_lean_drain(app)
    yield app
    app.consumer._thread.thread_loop.close()  # the loop of the consumer's thread, which never started
    loop.close()
    asyncio.set_event_loop(None)


def test_the_consumer_faust_builds_is_the_lean_one_with_the_state_it_reads(offline_app):
    app = offline_app
    consumer = app.consumer
    assert type(consumer) is LeanDrainConsumer, f"{FAUST}: app.transport.Consumer no longer decides; {WHAT_TO_DO}"
    state = {"_read_offset": dict, "_buffered_partitions": set, "_n_acked": int, "_stopped": mode.utils.locks.Event}
    for attribute, kind in state.items():
        assert isinstance(getattr(consumer, attribute, None), kind), \
            f"{FAUST}: the consumer's {attribute} is gone or no longer a {kind.__name__}; {WHAT_TO_DO}"
    assert consumer._commit_every == app.conf.broker_commit_every, f"{FAUST}: _commit_every; {WHAT_TO_DO}"
    assert isinstance(consumer.consumer_stopped_errors, tuple), f"{FAUST}: consumer_stopped_errors; {WHAT_TO_DO}"
    assert callable(app.topics.acks_enabled_for) and isinstance(app.client_only, bool), f"{FAUST}: {WHAT_TO_DO}"


def test_a_held_event_is_not_finally_acked_by_take_events_but_by_release(offline_app):
    app = offline_app
    messages = [ConsumerMessage("raw", 0, offset, 0.0, 0, [], b"key", b"value", None) for offset in range(3)]
    for message in messages:
        message.incref()  # the one reference the conductor takes for the one stream that receives it
    events = [faust.events.Event(app, m.key, m.value, m.headers, m) for m in messages]
    hold(events)
    assert not any(event.ack() for event in events), "take_events' ack must not be the final one"
    assert not any(m.acked for m in messages), f"{FAUST}: an offset would be committed before its write"
    release(events)
    assert all(m.acked for m in messages), f"{FAUST}: release no longer lets the offset be committed"
