"""What each pillarstream process needs, shared by the compose and Terraform checks.

The subcommand names come from the package itself (``launcher.cli.SUBCOMMANDS``); the required
settings are the package's contract for each process. Keeping them in one table means compose and
Terraform are held to the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
P = "PILLARSTREAM_"

# Each inner tuple is one requirement; any one name in it satisfies it (a value or its *_FILE twin).
KAFKA = (P + "KAFKA_BOOTSTRAP",)
DATABASE = (P + "DATABASE_URL", P + "DATABASE_URL_FILE")
ARCHIVE = (P + "ARCHIVE_URL",)
WEBHOOK_SECRET = (P + "WEBHOOK_SECRETS", P + "WEBHOOK_SECRET_FILE")
GITHUB_TOKEN = (P + "GITHUB_TOKEN", P + "GITHUB_TOKEN_FILE")

# Keyed by the command's leading words; the longest matching key applies.
REQUIRED_SETTINGS: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {
    ("receiver",): (KAFKA, WEBHOOK_SECRET),
    ("worker", "archiver"): (KAFKA, ARCHIVE),
    ("worker", "warehouse"): (KAFKA, DATABASE),
    ("migrate",): (DATABASE,),
    ("backfill",): (KAFKA, DATABASE, ARCHIVE, GITHUB_TOKEN),
    ("webhook",): (GITHUB_TOKEN,),
    ("replay",): (KAFKA, ARCHIVE),
}

# Second words that exist for subcommands that take one.
ACTIONS = {
    "worker": {"archiver", "warehouse"},
    "webhook": {"ensure", "ping", "status", "redeliver"},
    "dashboards": {"import"},
}

def subcommands() -> tuple[str, ...]:
    from launcher.cli import SUBCOMMANDS  # imported late: a missing name fails only the tests using it

    return tuple(SUBCOMMANDS)


def known_settings() -> set[str]:
    from pillarstream.settings import ENV_PREFIX, Settings

    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def command_problems(words: Sequence[str], names: Sequence[str]) -> list[str]:
    """Why ``pillarstream <words>`` would not reach a real subcommand (empty when it would)."""
    if not words:
        return ["no command"]
    if words[0] not in names:
        return [f"{words[0]!r} is not a pillarstream subcommand (known: {', '.join(sorted(names))})"]
    actions = ACTIONS.get(words[0])
    if actions is not None and (len(words) < 2 or words[1] not in actions):
        return [f"'{words[0]}' needs one of {sorted(actions)}, got {list(words[1:2])}"]
    return []


def required_settings(words: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    matches = [key for key in REQUIRED_SETTINGS if tuple(words[: len(key)]) == key]
    return REQUIRED_SETTINGS[max(matches, key=len)] if matches else ()


def missing_settings(words: Sequence[str], env: dict[str, str]) -> list[str]:
    """Requirements of the process ``words`` that ``env`` leaves unset or empty."""
    return [" or ".join(names) for names in required_settings(words) if not any(env.get(n) for n in names)]
