"""The layout shows the architecture: every import between top-level folders points down the layers below.

Read from the code itself (``ast``, every import statement, including those inside functions and under
``TYPE_CHECKING``), so an arrow that points back up, or a core module that reaches for a network library,
fails here with the file and the line. README.md ("Layout") describes the same layers.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]

# The allowed direction of dependencies, lowest layer first. A folder may import its own modules and those
# of any folder in a lower layer; never one in its own layer (the deployables are peers that share only
# what sits below them) or in a higher one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("pillarstream",),  # the core: envelope, signature, settings, config, normalise, errors; no I/O
    ("adapters",),  # Kafka, archive stores, Postgres, GitHub: shared by every deployable
    ("receiver", "stream_processors", "backfill", "dashboards"),  # the deployables
    ("devstack",),  # the local services behind `pillarstream up` and the tests
    ("launcher",),  # the `pillarstream` command and the `python -m` entry points
    ("tests",),
    ("bench",),
)
LAYER = {folder: depth for depth, folders in enumerate(LAYERS) for folder in folders}

# What the core may import besides itself: the standard library without its network and process modules,
# and these pure libraries (validation, JSON). Anything else is I/O and belongs in adapters/.
CORE_LIBRARIES = {"orjson", "pydantic", "pydantic_settings", "jsonschema"}
CORE_FORBIDDEN_STDLIB = {"asyncio", "ftplib", "http", "multiprocessing", "smtplib", "socket", "sqlite3", "ssl",
                         "subprocess", "urllib"}


def python_files(folder: str) -> Iterator[Path]:
    yield from sorted((REPO / folder).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file; a relative import names the file's own package."""
    package = ".".join(path.relative_to(REPO).parent.parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, package if node.level else (node.module or "")


def arrows() -> dict[tuple[str, str], list[str]]:
    """(from folder, to folder) -> where, for every import between two top-level folders of the layout."""
    found: dict[tuple[str, str], list[str]] = {}
    for folder in LAYER:
        for path in python_files(folder):
            for line, module in imports(path):
                target = module.split(".")[0]
                if target in LAYER and target != folder:
                    found.setdefault((folder, target), []).append(f"{path.relative_to(REPO)}:{line} {module}")
    return found


def test_every_python_folder_has_a_layer():
    folders = {p.parent.name for p in REPO.glob("*/__init__.py")} | {p.parent.name for p in REPO.glob("*/*.py")}
    folders -= {".venv", ".local"}
    assert folders <= set(LAYER), f"put {sorted(folders - set(LAYER))} in LAYERS"


def test_imports_between_folders_point_down_the_layers():
    upward = [f"{source} -> {target}: {where[0]}" + (f" (+{len(where) - 1} more)" if len(where) > 1 else "")
              for (source, target), where in sorted(arrows().items()) if LAYER[target] >= LAYER[source]]
    assert not upward, "imports against the layers (see LAYERS):\n" + "\n".join(upward)


def test_no_two_folders_import_each_other():
    found = arrows()
    both_ways = sorted({tuple(sorted(pair)) for pair in found if pair[::-1] in found})
    assert not both_ways, both_ways


def test_the_core_imports_no_io_library_and_no_other_folder():
    stdlib = set(sys.stdlib_module_names)
    bad = []
    for path in python_files("pillarstream"):
        for line, module in imports(path):
            top = module.split(".")[0]
            allowed = (top == "pillarstream" or top in CORE_LIBRARIES or top == "__future__"
                       or (top in stdlib and top not in CORE_FORBIDDEN_STDLIB))
            if not allowed:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not bad, "the core (pillarstream/) must stay free of I/O:\n" + "\n".join(bad)


def test_the_checks_see_what_they_look_for():
    """The walk finds lazy imports inside functions: the launcher starts the receiver that way."""
    lazy = [where for (source, target), where in arrows().items() if (source, target) == ("launcher", "receiver")]
    assert lazy and any("launcher/cli.py" in w for w in lazy[0])
