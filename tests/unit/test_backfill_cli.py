import argparse
from datetime import UTC, datetime

import pytest

from adapters.github_client import credentials
from backfill.cli import add_parser
from backfill.envelopes import MAPPINGS
from backfill.resources import BY_NAME, RESOURCES, SELECTORS, select
from backfill.runner import repo_matcher
from pillarstream.errors import ConfigError
from pillarstream.settings import load_settings

pytestmark = pytest.mark.unit


def parse(*argv: str) -> argparse.Namespace:
    sub = argparse.ArgumentParser().add_subparsers(dest="command")
    return add_parser(sub).parse_args(list(argv))


def test_options():
    args = parse("--org", "acme", "--repo", "api", "--repo", "web-*", "--since", "2024-01-01",
                 "--until", "2024-02-01T12:00:00+01:00", "--resources", "pulls,issues", "--dry-run")
    assert (args.org, args.user, args.repo, args.resources, args.dry_run) == (
        "acme", None, ["api", "web-*"], ["pulls", "issues"], True)
    assert args.since == datetime(2024, 1, 1, tzinfo=UTC)
    assert args.until == datetime(2024, 2, 1, 11, tzinfo=UTC)
    assert callable(args.handler)
    with pytest.raises(SystemExit):
        parse("--org", "a", "--user", "b")


def test_several_tokens_and_no_token(monkeypatch):
    monkeypatch.setenv("PILLARSTREAM_GITHUB_TOKEN", "ghp_one, ghp_two\nghp_three")
    found = credentials(load_settings(), "https://api.github.com", org="acme")
    assert [c.auth.token for c in found] == ["ghp_one", "ghp_two", "ghp_three"]
    assert [c.name for c in found] == ["token 1", "token 2", "token 3"]
    monkeypatch.delenv("PILLARSTREAM_GITHUB_TOKEN")
    with pytest.raises(ConfigError):
        credentials(load_settings(), "https://api.github.com", org="acme")


def test_resource_selection():
    default = select(None)
    assert {"pulls", "reviews", "check_runs", "commits", "workflow_runs", "deployments", "issues", "members",
            "teams", "owner", "repositories"} <= default
    assert not default & {"check_suites", "pr_commits"}  # opt-in: no catalogue metric reads them
    assert select(["all"]) == frozenset(BY_NAME)
    assert select(["issues"]) == {"issues", "owner", "repositories"}
    assert {"deployment_statuses", "deployments"} <= select(["deployments"])
    with pytest.raises(ConfigError, match="unknown resource"):
        select(["pull"])


def test_every_resource_is_declared_completely():
    for resource in RESOURCES:
        assert resource.path.startswith("/")
        assert resource.mapping is None or resource.mapping in MAPPINGS  # the envelope the sweep builds
        assert resource.parent is None or resource.parent in BY_NAME
    assert set(SELECTORS) <= set(BY_NAME)


def test_repository_patterns():
    selected = repo_matcher(("api", "web-*", "acme/tools"))
    names = ["api", "api-gateway", "web-app", "tools", "other"]
    chosen = [n for n in names if selected({"name": n, "full_name": f"acme/{n}"})]
    assert chosen == ["api", "web-app", "tools"]
    assert repo_matcher(())({"name": "anything"})
