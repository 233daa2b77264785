"""Load Terraform modules with python-hcl2 and check that every reference resolves.

Terraform itself cannot run here (no provider downloads), so this does the part of
`terraform validate` that needs no provider schema: every ``var.``, ``local.``, ``module.``,
``data.`` and resource reference names something declared, module calls pass exactly the
variables the module declares, and ``module.X.Y`` names a real output of X.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
META_ARGUMENTS = {"source", "version", "count", "for_each", "providers", "depends_on"}
# Names that are references but need no declaration.
BUILTINS = {"each", "count", "self", "path", "terraform"}
REFERENCE = re.compile(r"(?<![\w.\]\)])([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?")
FOR_VARIABLES = re.compile(r"\bfor\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\b")


@dataclass
class Module:
    """One Terraform module: all the .tf files of one directory."""

    path: Path
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    providers: set[str] = field(default_factory=set)
    raw: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (file name, parsed file)


def load(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        with tf.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        module.raw.append((tf.name, parsed))
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("module", []):
            module.calls.update(block)
        for kind, target in (("resource", module.resources), ("data", module.data)):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        target[(rtype, name)] = body
        for block in parsed.get("terraform", []):
            for required in block.get("required_providers", []):
                module.providers.update(required)
    return module


def child_path(module: Module, call: dict[str, Any]) -> Path:
    return (module.path / call["source"]).resolve()


# --- finding the expressions in parsed values -------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def _scan_template(text: str, i: int, closing: str | None, out: list[str]) -> int:
    """Read template text from i up to ``closing`` (or the end); collect each ${...} as code."""
    while i < len(text):
        if closing and text[i] == closing:
            return i + 1
        if text[i] == "\\" and closing:
            i += 2
        elif text.startswith("$${", i):
            i += 3
        elif text.startswith("${", i):
            i = _scan_code(text, i + 2, out)
        else:
            i += 1
    return i


def _scan_code(text: str, i: int, out: list[str]) -> int:
    """Read one interpolation's code up to its closing brace; string literals are blanked out."""
    code: list[str] = []
    depth = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _scan_template(text, i + 1, '"', out)
            code.append('""')
            continue
        if char in "{[(":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "}":
            if depth == 0:
                out.append("".join(code))
                return i + 1
            depth -= 1
        code.append(char)
        i += 1
    out.append("".join(code))
    return i


def expressions(value: Any) -> list[str]:
    """The code of every interpolation in a parsed value, string literals removed."""
    out: list[str] = []
    for text in strings(value):
        _scan_template(text, 0, None, out)
    return out


# --- resolving ---------------------------------------------------------------------------------------


def iterator_names(module: Module) -> set[str]:
    """for-expression variables and dynamic block names: local names, not references."""
    names: set[str] = set()
    for code in expressions([raw for _, raw in module.raw]):
        for match in FOR_VARIABLES.finditer(code):
            names.update(n for n in match.groups() if n)

    def dynamic_labels(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "dynamic":
                    for block in item:
                        names.update(block)
                dynamic_labels(item)
        elif isinstance(value, list):
            for item in value:
                dynamic_labels(item)

    dynamic_labels([raw for _, raw in module.raw])
    return names


def problems(module: Module, outputs_of: dict[Path, set[str]]) -> list[str]:
    """Every reference in ``module`` that names nothing; ``outputs_of`` maps child paths to outputs."""
    where = module.path.name
    found: list[str] = []
    local_names = iterator_names(module)
    used_vars: set[str] = set()
    used_locals: set[str] = set()
    for code in expressions([raw for _, raw in module.raw]):
        for head, name, attr in REFERENCE.findall(code):
            if head == "var":
                used_vars.add(name)
                if name not in module.variables:
                    found.append(f"{where}: var.{name} is not declared")
            elif head == "local":
                used_locals.add(name)
                if name not in module.locals:
                    found.append(f"{where}: local.{name} is not declared")
            elif head == "module":
                if name not in module.calls:
                    found.append(f"{where}: module.{name} is not declared")
                elif attr and attr not in outputs_of.get(child_path(module, module.calls[name]), set()):
                    found.append(
                        f"{where}: module.{name}.{attr} is not an output of {module.calls[name]['source']}"
                    )
            elif head == "data":
                if not attr or (name, attr) not in module.data:
                    found.append(f"{where}: data.{name}.{attr} is not declared")
            elif head in BUILTINS or head in local_names:
                continue
            elif (head, name) not in module.resources:
                found.append(f"{where}: {head}.{name} is neither a declared resource nor a known name")
    found += [f"{where}: variable {v!r} is never used" for v in module.variables.keys() - used_vars]
    found += [f"{where}: local {v!r} is never used" for v in module.locals.keys() - used_locals]
    for rtype, _ in [*module.resources, *module.data]:
        if rtype.split("_")[0] not in module.providers:
            found.append(f"{where}: provider of {rtype} is not in required_providers")
    return found


def call_problems(module: Module, children: dict[Path, Module]) -> list[str]:
    """Module calls that pass unknown arguments or leave a required variable unset."""
    found: list[str] = []
    for name, call in module.calls.items():
        child = children.get(child_path(module, call))
        if child is None:
            found.append(
                f"{module.path.name}: module {name} source {call['source']} is not a module directory"
            )
            continue
        given = call.keys() - META_ARGUMENTS
        for arg in sorted(given - child.variables.keys()):
            found.append(
                f"{module.path.name}: module {name} passes {arg!r}, which {call['source']} does not declare"
            )
        required = {v for v, spec in child.variables.items() if "default" not in spec}
        for arg in sorted(required - given):
            found.append(f"{module.path.name}: module {name} does not set required variable {arg!r}")
    return found


def load_tree(root: Path) -> dict[Path, Module]:
    """The root module and every module it calls through a local path, recursively."""
    modules: dict[Path, Module] = {}
    pending = [root.resolve()]
    while pending:
        path = pending.pop()
        if path in modules or not path.is_dir():
            continue
        modules[path] = load(path)
        pending += [child_path(modules[path], call) for call in modules[path].calls.values()]
    return modules


def tree_problems(root: Path) -> list[str]:
    modules = load_tree(root)
    outputs_of = {path: set(m.outputs) for path, m in modules.items()}
    found: list[str] = []
    for module in modules.values():
        found += problems(module, outputs_of)
        found += call_problems(module, modules)
    return found
