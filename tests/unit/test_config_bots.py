"""The bot policy: configured rules, and where bots count and where they do not."""

from __future__ import annotations

import pytest

from pillarstream.config import BotPolicy, parse_pillar_config

pytestmark = pytest.mark.unit
DEFAULT = BotPolicy()


@pytest.mark.parametrize("login, account_type, expected", [
    ("dependabot[bot]", "Bot", True),
    ("dependabot[bot]", None, True),          # commit authors have no type: the suffix decides
    ("github-actions[BOT]", "User", True),    # suffixes compare case-insensitively
    ("renovate", "Bot", True),                # the account type alone is enough
    ("alice", "User", False),
    ("alice", None, False),
    ("botanist", "User", False),              # "bot" inside a login is not a rule
    (None, None, False),
    ("", "User", False),
])
def test_default_policy(login, account_type, expected):
    assert DEFAULT.is_bot(login, account_type) is expected


def test_configured_logins_and_suffixes_replace_the_defaults():
    policy = parse_pillar_config({"version": 1, "bots": {
        "sender_types": ["Bot", "Mannequin"], "login_suffixes": ["-ci"], "logins": ["Release-Robot"]}}).bots
    assert policy.is_bot("release-robot", "User")
    assert policy.is_bot("nightly-CI", "User")
    assert policy.is_bot("someone", "Mannequin")
    assert not policy.is_bot("dependabot[bot]", "User"), "the [bot] suffix was replaced, not added to"


def test_sender_types_compare_exactly():
    assert not DEFAULT.is_bot("x", "bot")
