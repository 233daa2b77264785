"""Pillar configuration: bot policy, production environments, incident labels.

The file is JSON validated against ``configs/pillars.schema.json``; every violation is reported at once in a
single :class:`ConfigError`, so a bad deployment fails at start-up with the whole list rather than one
field per restart. Nothing is read at import time: callers pass a path (or take the repository default).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from pillarstream.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DEFAULT_PATH = CONFIG_DIR / "pillars.json"
SCHEMA_PATH = CONFIG_DIR / "pillars.schema.json"


@dataclass(frozen=True, slots=True)
class BotPolicy:
    """Which accounts are bots. Comparisons on logins are case-insensitive (GitHub logins are)."""

    sender_types: frozenset[str] = frozenset({"Bot"})
    login_suffixes: tuple[str, ...] = ("[bot]",)
    logins: frozenset[str] = frozenset()

    def is_bot(self, login: str | None, account_type: str | None = None) -> bool:
        if account_type is not None and account_type in self.sender_types:
            return True
        if not login:
            return False
        folded = login.casefold()
        return folded in self.logins or any(folded.endswith(suffix) for suffix in self.login_suffixes)


@dataclass(frozen=True, slots=True)
class PillarConfig:
    bots: BotPolicy = field(default_factory=BotPolicy)
    production_environments: frozenset[str] = frozenset({"production"})
    incident_labels: frozenset[str] = frozenset({"incident"})

    def is_production(self, environment: str | None) -> bool:
        return environment is not None and environment.casefold() in self.production_environments

    def is_incident(self, labels: Iterable[str]) -> bool:
        return any(label.casefold() in self.incident_labels for label in labels)


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config schema {path}: {exc}") from exc
    return schema


def validation_errors(data: Any, schema: Mapping[str, Any] | None = None) -> list[str]:
    """Every schema violation in ``data``, as ``at <json path>: <message>`` lines, in document order."""
    validator = jsonschema.Draft202012Validator(schema if schema is not None else load_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"at {e.json_path}: {_message(e)}" for e in errors]


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, except that a value outside a long list (GitHub's ~70 event names) is named with
    the closest allowed value instead of the whole list."""
    allowed = error.validator_value
    if error.validator != "enum" or len(allowed) <= 8 or not isinstance(error.instance, str):
        return str(error.message)
    close = difflib.get_close_matches(error.instance, [str(a) for a in allowed], n=1)
    return f"{error.instance!r} is not one of the {len(allowed)} allowed values" + (
        f" (did you mean {close[0]!r}?)" if close else "")


def parse_pillar_config(data: Any, *, source: str = "pillar config",
                        schema: Mapping[str, Any] | None = None) -> PillarConfig:
    """Validate already-parsed JSON and build the config; defaults fill what the file leaves out."""
    errors = validation_errors(data, schema)
    if errors:
        raise ConfigError(f"{source} is invalid ({len(errors)} error{'s' if len(errors) > 1 else ''}):\n  "
                          + "\n  ".join(errors))
    defaults = PillarConfig()
    bots = data.get("bots", {})
    policy = BotPolicy(
        sender_types=frozenset(bots.get("sender_types", defaults.bots.sender_types)),
        login_suffixes=tuple(s.casefold() for s in bots.get("login_suffixes", defaults.bots.login_suffixes)),
        logins=frozenset(s.casefold() for s in bots.get("logins", ())),
    )
    return PillarConfig(
        bots=policy,
        production_environments=frozenset(
            s.casefold() for s in data.get("production_environments", defaults.production_environments)),
        incident_labels=frozenset(
            s.casefold() for s in data.get("incident_labels", defaults.incident_labels)),
    )


def load_pillar_config(path: Path | str | None = None) -> PillarConfig:
    """Read, validate and build the pillar config (``None``: the repository's ``configs/pillars.json``)."""
    target = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read pillar config {target}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"pillar config {target} is not JSON: {exc}") from exc
    return parse_pillar_config(data, source=f"pillar config {target}")
