"""Dockerfile: multi-stage, runs as non-root, starts the real console script, and builds from files
that exist and that .dockerignore lets through."""

from __future__ import annotations

import fnmatch
import json
import shlex
import tomllib

import pytest

from . import compose
from .contracts import REPO, command_problems, subcommands

pytestmark = pytest.mark.unit

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        word, _, rest = current.strip().partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def stages() -> list[tuple[str, list[tuple[str, str]]]]:
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for word, rest in instructions():
        if word == "FROM":
            parts = rest.split()
            found.append((parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else "", []))
        elif found:
            found[-1][1].append((word, rest))
    return found


def exec_form(value: str) -> list[str]:
    return json.loads(value) if value.startswith("[") else shlex.split(value)


def test_is_multi_stage_and_runtime_is_last() -> None:
    names = [name for name, _ in stages()]
    assert len(names) >= 2 and names[-1] == "runtime", names
    targets = {
        s["build"]["target"] for s in compose.raw()["services"].values() if isinstance(s.get("build"), dict)
    }
    assert targets <= set(names), f"compose builds targets the Dockerfile lacks: {targets - set(names)}"


def test_runtime_runs_as_a_non_root_user() -> None:
    _, body = stages()[-1]
    users = [rest for word, rest in body if word == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]
    assert user.isdigit(), "use a numeric uid so orchestrators can verify runAsNonRoot"


def test_entrypoint_is_the_console_script_and_cmd_a_subcommand() -> None:
    _, body = stages()[-1]
    entrypoint = exec_form([rest for word, rest in body if word == "ENTRYPOINT"][-1])
    assert entrypoint[-1] == "pillarstream", entrypoint
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["pillarstream"] == "launcher.cli:main"
    cmd = exec_form([rest for word, rest in body if word == "CMD"][-1])
    assert not command_problems(cmd, subcommands()), cmd


def in_context(path: str) -> bool:
    """Whether .dockerignore lets ``path`` into the build context (last matching pattern wins,
    and a pattern that matches a folder matches everything under it)."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(prefix, glob) for prefix in prefixes):
            included = negated
    return included


def packages() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return [name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]


def test_the_build_context_holds_the_package_and_nothing_private() -> None:
    needed = [
        "pyproject.toml",
        "README.md",
        "configs/pillars.json",
        *(f"{p}/__init__.py" for p in packages()),
    ]
    missing = [path for path in needed if not in_context(path)]
    assert not missing, f".dockerignore keeps these out of the image: {missing}"
    private = [".env", ".git/config", ".venv/bin/python", ".local/x", "tests/x.py", "terraform/main.tf"]
    leaked = [path for path in private if in_context(path)]
    assert not leaked, f".dockerignore lets these into the build context: {leaked}"
    assert not in_context("pillarstream/__pycache__/cli.cpython-311.pyc")


def test_copied_files_exist() -> None:
    for word, rest in instructions():
        if word == "COPY" and "--from=" not in rest:
            for source in [a for a in shlex.split(rest) if not a.startswith("--")][:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
                assert source == "." or in_context(source), f"COPY {source}: excluded by .dockerignore"
