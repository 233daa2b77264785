from datetime import UTC, datetime, timedelta

import pytest

from pillarstream.errors import ConfigError
from receiver.hook_admin import DesiredHook, desired_hook, hook_changes, load_hook_config
from receiver.reconciler import Attempt, delivery_gap, plan_redeliveries
from receiver.webhook_commands import duration

pytestmark = pytest.mark.unit
DESIRED = DesiredHook(url="https://hooks.example/webhooks/github", secret="s", events=("pull_request", "push"))
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def current(**override):
    hook = {"config": {"url": DESIRED.url, "content_type": "json", "insecure_ssl": "0", "secret": "********"},
            "events": ["push", "pull_request"], "active": True}
    hook.update(override)
    return hook


def test_matching_hook_needs_no_change():
    assert hook_changes(current(), DESIRED) == []


def test_misconfigured_hook_changes_are_listed_without_the_secret():
    hook = current(config={"url": DESIRED.url, "content_type": "form", "insecure_ssl": "1"},
                   events=["push", "star"], active=False)
    changes = hook_changes(hook, DESIRED)
    assert changes == ["config.content_type: form -> json", "config.insecure_ssl: 1 -> 0",
                       "config.secret: (unset) -> (set)", "events: +pull_request -star", "active: false -> true"]
    assert all("s" != part for line in changes for part in line.split())


def test_secret_rotation_is_explicit():
    assert hook_changes(current(), DESIRED, rotate_secret=True) == ["config.secret: (rotated)"]


def test_shipped_config_is_valid_and_sorted():
    hook = desired_hook("https://x/webhooks/github", "secret")
    assert "push" in hook.events and list(hook.events) == sorted(hook.events)
    assert load_hook_config()["content_type"] == "json"


def test_invalid_config_lists_errors(tmp_path):
    (tmp_path / "webhook.json").write_text('{"version": 2, "events": [], "extra": 1}')
    with pytest.raises(ConfigError) as err:
        load_hook_config(tmp_path / "webhook.json")
    assert str(err.value).count("\n  at ") == 3



@pytest.mark.parametrize("event", ["pull_requests", "pushes", "not_an_event"])
def test_event_names_github_does_not_have_are_refused(tmp_path, event):
    (tmp_path / "webhook.json").write_text(f'{{"version": 1, "events": ["push", "{event}"]}}')
    with pytest.raises(ConfigError, match="webhook.json is invalid"):
        load_hook_config(tmp_path / "webhook.json")


def test_a_misspelt_event_is_named_with_the_closest_one_not_the_whole_list(tmp_path):
    (tmp_path / "webhook.json").write_text('{"version": 1, "events": ["push", "pull_requests"]}')
    with pytest.raises(ConfigError) as err:
        load_hook_config(tmp_path / "webhook.json")
    assert "at $.events[1]: 'pull_requests' is not one of the " in str(err.value)
    assert "(did you mean 'pull_request'?)" in str(err.value) and "workflow_dispatch" not in str(err.value)


def test_an_override_elsewhere_is_read_and_checked_against_the_shipped_schema(tmp_path):
    (tmp_path / "hook.json").write_text('{"version": 1, "events": ["push", "workflow_run", "sub_issues"]}')
    assert desired_hook("https://x/webhooks/github", "s", tmp_path / "hook.json").events == (
        "push", "sub_issues", "workflow_run")


def test_webhook_config_setting_overrides_the_shipped_file(monkeypatch, tmp_path):
    from pillarstream.settings import load_settings

    monkeypatch.setenv("PILLARSTREAM_WEBHOOK_CONFIG", str(tmp_path / "hook.json"))
    assert load_settings().webhook_config == tmp_path / "hook.json"


def attempt(i, guid, status, minutes=0, redelivery=False):
    return Attempt(id=i, guid=guid, delivered_at=T0 + timedelta(minutes=minutes), status_code=status,
                   event="push", redelivery=redelivery)


def test_plan_redelivers_only_deliveries_that_never_succeeded():
    attempts = [
        attempt(1, "ok", 202), attempt(2, "failed-then-ok", 503), attempt(3, "failed-then-ok", 202, 5, True),
        attempt(4, "failed-twice", 503), attempt(5, "failed-twice", 0, 7, True), attempt(6, "arrived-by-backfill", 503),
        attempt(7, "timeout", 0, 1),
    ]
    plan = plan_redeliveries(attempts, {"arrived-by-backfill", "ok"})
    assert plan.seen == 5
    assert [(a.guid, a.id) for a in plan.failed] == [("timeout", 7), ("failed-twice", 5)]
    assert plan.already_in_warehouse == 1
    assert delivery_gap(attempts, {"arrived-by-backfill", "ok"}) == 3


@pytest.mark.parametrize(("text", "expected"), [("72h", timedelta(hours=72)), ("5m", timedelta(minutes=5)),
                                                ("30s", timedelta(seconds=30)), ("3d", timedelta(days=3))])
def test_durations(text, expected):
    assert duration(text) == expected


def test_bad_duration():
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        duration("soon")
