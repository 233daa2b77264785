"""The GitHub webhook as code: desired state from configs/webhook.json, compared and applied with PyGithub.

GitHub never returns a hook's secret (it shows ``********``), so a secret can only be known to be *set*;
``--rotate-secret`` writes the configured one explicitly, which is how a rotation is finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pillarstream.config import CONFIG_DIR, validation_errors
from pillarstream.errors import ConfigError

HOOK_CONFIG = CONFIG_DIR / "webhook.json"  # PILLARSTREAM_WEBHOOK_CONFIG or `webhook ensure --config` override it
HOOK_SCHEMA = CONFIG_DIR / "webhook.schema.json"  # an override is checked against the shipped schema


@dataclass(frozen=True)
class DesiredHook:
    url: str
    secret: str
    events: tuple[str, ...]
    content_type: str = "json"

    def config(self) -> dict[str, str]:
        return {"url": self.url, "content_type": self.content_type, "secret": self.secret, "insecure_ssl": "0"}


def load_hook_config(path: Path = HOOK_CONFIG) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        schema = json.loads(HOOK_SCHEMA.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    errors = validation_errors(data, schema)
    if errors:
        raise ConfigError(f"{path} is invalid:\n  " + "\n  ".join(errors))
    return dict(data)


def desired_hook(url: str, secret: str, path: Path = HOOK_CONFIG) -> DesiredHook:
    data = load_hook_config(path)
    return DesiredHook(url=url, secret=secret, events=tuple(sorted(data["events"])),
                       content_type=data.get("content_type", "json"))


def hook_changes(current: dict[str, Any], desired: DesiredHook, *, rotate_secret: bool = False) -> list[str]:
    """What must change for ``current`` (GitHub's hook JSON: config, events, active) to match ``desired``.

    Empty when nothing needs writing. Lines are for people, and never contain the secret.
    """
    changes = []
    config = current.get("config") or {}
    for key in ("url", "content_type", "insecure_ssl"):
        want = desired.config()[key]
        have = str(config.get(key, ""))
        if have != want:
            changes.append(f"config.{key}: {have or '(unset)'} -> {want}")
    if not config.get("secret"):
        changes.append("config.secret: (unset) -> (set)")
    elif rotate_secret:
        changes.append("config.secret: (rotated)")
    have_events = set(current.get("events") or [])
    want_events = set(desired.events)
    if have_events != want_events:
        added = " ".join(f"+{e}" for e in sorted(want_events - have_events))
        removed = " ".join(f"-{e}" for e in sorted(have_events - want_events))
        changes.append(f"events: {' '.join(filter(None, [added, removed]))}")
    if not current.get("active", False):
        changes.append("active: false -> true")
    return changes
