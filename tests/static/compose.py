"""Read docker-compose.yml the way Compose does: YAML (with merge keys) plus ${VAR} interpolation."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from .contracts import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
APP_IMAGE = "pillarstream:"

# $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $NAME
_VARIABLE = re.compile(r"\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*))")


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def variables(text: str) -> list[tuple[str, str | None]]:
    """(name, operator) for each variable the text interpolates; operator None for plain $NAME."""
    return [(m[2] or m[5], m[3] or None) for m in _VARIABLE.finditer(text) if not m[1]]


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(m: re.Match[str]) -> str:
        if m[1]:
            return "$"
        name, op, arg = m[2] or m[5], m[3] or "", m[4] or ""
        value = env.get(name)
        if op in (":-", "-"):
            return value if (value if op == ":-" else value is not None) else arg
        if op in (":?", "?"):
            if (not value) if op == ":?" else value is None:
                raise KeyError(f"${{{name}}} is required: {arg}")
            return value or ""
        if op == ":+":
            return arg if value else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def _interpolate_tree(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, dict):
        return {k: _interpolate_tree(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate_tree(v, env) for v in value]
    return value


def raw() -> dict[str, Any]:
    """The compose file as YAML, merge keys applied, nothing interpolated."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def resolved(env: dict[str, str] | None = None) -> dict[str, Any]:
    return _interpolate_tree(raw(), read_env_file() if env is None else env)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]


def is_app(service: dict[str, Any]) -> bool:
    """Services that run the pillarstream image (its entry point is `pillarstream`)."""
    return str(service.get("image", "")).startswith(APP_IMAGE)


def is_one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"
