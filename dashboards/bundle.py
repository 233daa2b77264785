"""The dashboards bundle: Superset's import format (YAML files under ``dashboards/assets``), loaded,
checked, turned into the ZIP Superset imports, and rebuilt from a ZIP Superset exported.

The files in the repository are the source of truth and stay reviewable: they hold no password (the
database URI carries Superset's password mask, the password travels beside the ZIP), no host-specific
address beyond the local default (the importer fills in the warehouse it is given), and no derived
blobs (chart query contexts are rebuilt at import time, :mod:`dashboards.query_context`).
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import yaml

from dashboards import ASSETS_DIR
from dashboards.query_context import SUPPORTED, build_query_context

PASSWORD_MASK = "X" * 10  # what Superset writes instead of a password, and accepts back on import
ZIP_ROOT = "pillarstream_dashboards"
MAX_REFRESH_SECONDS = 30
KINDS = ("databases", "datasets", "charts", "dashboards")
# A virtual dataset may read views of the `reporting` schema and nothing else.
_RELATION = re.compile(r"\b(?:from|join)\s+(?!lateral\b)(?!\()([a-z_][\w.\"]*)", re.IGNORECASE)


class BundleError(ValueError):
    """The bundle breaks one of its rules; the message lists every problem."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the dashboards read the warehouse: a SQLAlchemy URI with the password masked, and the
    password apart."""

    sqlalchemy_uri: str
    password: str | None

    @classmethod
    def from_dsn(cls, dsn: str, *, host: str | None = None) -> DatabaseTarget:
        """From a libpq DSN (URL or key=value) of the read-only role. ``host`` replaces the DSN's host,
        for a Superset that reaches Postgres under another name (a container network)."""
        from psycopg2.extensions import parse_dsn

        parts = parse_dsn(dsn)
        user = parts.get("user")
        if not user:
            raise BundleError("the warehouse DSN names no user (use the read-only pillarstream_reader)")
        password = parts.get("password")
        netloc = quote(user, safe="") + (f":{PASSWORD_MASK}" if password else "")
        netloc += f"@{host or parts.get('host', '127.0.0.1')}"
        if parts.get("port"):
            netloc += f":{parts['port']}"
        database = parts.get("dbname", "pillarstream")
        return cls(f"postgresql+psycopg2://{netloc}/{quote(database, safe='')}", password)


def _read_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise BundleError(f"{path}: not a YAML mapping")
    return loaded


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # no &anchors: each file reads on its own


def dump_yaml(config: dict[str, Any]) -> str:
    # Sorted keys and wide lines: a change in the UI shows as a small diff.
    text: str = yaml.dump(
        config, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=120, default_flow_style=False
    )
    return text


class Bundle:
    """The asset files by their path inside the bundle (``charts/…yaml``) → parsed YAML."""

    def __init__(self, files: dict[str, dict[str, Any]]) -> None:
        self.files = files

    @classmethod
    def load(cls, root: Path = ASSETS_DIR) -> Bundle:
        files = {
            str(PurePosixPath(*p.relative_to(root).parts)): _read_yaml(p)
            for p in sorted(root.rglob("*.yaml"))
        }
        bundle = cls(files)
        bundle.check()
        return bundle

    # -- views ------------------------------------------------------------------------------------

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {path: config for path, config in self.files.items() if path.startswith(f"{kind}/")}

    @property
    def database_file(self) -> str:
        (path,) = self.of("databases")
        return path

    @property
    def database_uuid(self) -> str:
        return str(self.files[self.database_file]["uuid"])

    def by_uuid(self, kind: str) -> dict[str, dict[str, Any]]:
        return {str(config["uuid"]): config for config in self.of(kind).values()}

    def dashboard(self, slug: str) -> dict[str, Any]:
        return next(d for d in self.of("dashboards").values() if d.get("slug") == slug)

    @staticmethod
    def dashboard_chart_uuids(dashboard: dict[str, Any]) -> list[str]:
        """The dashboard's charts in layout order."""
        return [
            node["meta"]["uuid"]
            for node in dashboard["position"].values()
            if isinstance(node, dict) and node.get("type") == "CHART"
        ]

    # -- rules ------------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        found: list[str] = []
        if "metadata.yaml" not in self.files:
            found.append("metadata.yaml is missing")
        databases = self.of("databases")
        if len(databases) != 1:
            found.append(f"expected exactly one database file, found {sorted(databases)}")
        database_uuids = {str(c["uuid"]) for c in databases.values()}
        for path, config in databases.items():
            password = _uri_password(config.get("sqlalchemy_uri", ""))
            if password not in (None, PASSWORD_MASK) or config.get("password"):
                found.append(f"{path}: holds a password; keep only the mask {PASSWORD_MASK}")
            if config.get("encrypted_extra") or config.get("masked_encrypted_extra"):
                found.append(f"{path}: holds encrypted extras (secrets)")
        uuids: dict[str, str] = {}
        for path, config in self.files.items():
            if path == "metadata.yaml":
                continue
            uid = str(config.get("uuid"))
            if uid in uuids:
                found.append(f"{path}: uuid {uid} also used by {uuids[uid]}")
            uuids[uid] = path
        datasets = self.by_uuid("datasets")
        for path, config in self.of("datasets").items():
            if str(config.get("database_uuid")) not in database_uuids:
                found.append(f"{path}: unknown database_uuid")
            found += [f"{path}: {p}" for p in _dataset_problems(config)]
        charts = self.by_uuid("charts")
        for path, config in self.of("charts").items():
            if str(config.get("dataset_uuid")) not in datasets:
                found.append(f"{path}: unknown dataset_uuid {config.get('dataset_uuid')}")
        on_dashboards: set[str] = set()
        for path, config in self.of("dashboards").items():
            chart_uuids = self.dashboard_chart_uuids(config)
            on_dashboards.update(chart_uuids)
            found += [f"{path}: unknown chart {u}" for u in chart_uuids if u not in charts]
            metadata = config.get("metadata", {})
            refresh = metadata.get("refresh_frequency", 0)
            if not 0 < refresh <= MAX_REFRESH_SECONDS:
                found.append(
                    f"{path}: refresh_frequency {refresh} s; near real time needs 1..{MAX_REFRESH_SECONDS}"
                )
            for native in metadata.get("native_filter_configuration", []):
                for target in native.get("targets", []):
                    if "datasetUuid" in target and target["datasetUuid"] not in datasets:
                        found.append(f"{path}: filter {native.get('name')!r} targets an unknown dataset")
        found += [
            f"{path}: chart is on no dashboard"
            for path, c in self.of("charts").items()
            if str(c["uuid"]) not in on_dashboards
        ]
        return found

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise BundleError("dashboards bundle:\n  " + "\n  ".join(problems))

    # -- import -----------------------------------------------------------------------------------

    def render(
        self, target: DatabaseTarget, *, refresh_seconds: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """The files as Superset should import them into this installation."""
        files = copy.deepcopy(self.files)
        files["metadata.yaml"] = {
            "version": "1.0.0",
            "type": "assets",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        for path in self.of("databases"):
            files[path]["sqlalchemy_uri"] = target.sqlalchemy_uri
        datasets = self.by_uuid("datasets")
        for path, chart in self.of("charts").items():
            if not chart.get("query_context"):
                dataset = datasets[str(chart["dataset_uuid"])]
                files[path]["query_context"] = build_query_context(chart, dataset)
        if refresh_seconds is not None:
            if not 0 <= refresh_seconds <= 86_400:
                raise BundleError(f"refresh interval {refresh_seconds} s is out of range")
            for path in self.of("dashboards"):
                files[path]["metadata"]["refresh_frequency"] = refresh_seconds
        return files

    def to_zip(self, target: DatabaseTarget, *, refresh_seconds: int | None = None) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, config in sorted(self.render(target, refresh_seconds=refresh_seconds).items()):
                archive.writestr(f"{ZIP_ROOT}/{path}", dump_yaml(config))
        return buffer.getvalue()

    # -- export -----------------------------------------------------------------------------------

    def write(self, root: Path = ASSETS_DIR) -> list[Path]:
        """Writes every file (and removes YAML files the bundle no longer has); returns what changed."""
        changed = []
        for path, config in sorted(self.files.items()):
            target = root / path
            text = dump_yaml(config)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                changed.append(target)
        keep = {root / p for p in self.files}
        for old in root.rglob("*.yaml"):
            if old not in keep:
                old.unlink()
                changed.append(old)
        return changed


def _uri_password(uri: str) -> str | None:
    match = re.match(r"^[^:/]+://[^:@/]+:([^@]*)@", uri)
    return match.group(1) if match else None


def _dataset_problems(config: dict[str, Any]) -> list[str]:
    found = []
    sql = config.get("sql")
    if sql:
        without_comments = re.sub(r"--[^\n]*", "", sql)
        ctes = {m.lower() for m in re.findall(r"\b(\w+)\s+as\s*\(", without_comments, re.IGNORECASE)}
        for relation in _RELATION.findall(without_comments):
            name = relation.replace('"', "").lower()
            if not name.startswith("reporting.") and name not in ctes:
                found.append(f"reads {relation}, outside the reporting schema")
    elif config.get("schema") != "reporting":
        found.append(
            f"physical dataset in schema {config.get('schema')!r}; only `reporting` views are allowed"
        )
    return found


def from_export(data: list[bytes], previous: Bundle) -> Bundle:
    """A bundle from Superset export ZIPs, normalised so that the files diff well against ``previous``:
    the same paths for the same UUIDs, no volatile or derived fields, the database URI of ``previous``."""
    files: dict[str, dict[str, Any]] = {}
    old_paths = {(path.split("/", 1)[0], str(c.get("uuid"))): path for path, c in previous.files.items()}
    for blob in data:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            for name in archive.namelist():
                inner = name.split("/", 1)[1] if "/" in name else name
                kind = inner.split("/", 1)[0]
                if kind not in KINDS or not inner.endswith(".yaml"):
                    continue
                config = yaml.safe_load(archive.read(name))
                path = old_paths.get((kind, str(config.get("uuid")))) or _new_path(kind, config)
                files[path] = normalise(kind, config, previous.files.get(path))
    files["metadata.yaml"] = previous.files.get("metadata.yaml", {"version": "1.0.0", "type": "assets"})
    return Bundle(files)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:80] or "unnamed"


def _new_path(kind: str, config: dict[str, Any]) -> str:
    name = {
        "databases": "database_name",
        "datasets": "table_name",
        "charts": "slice_name",
        "dashboards": "slug",
    }[kind]
    text = str(config.get(name) or config.get("dashboard_title") or config.get("uuid"))
    folder = "datasets/pillarstream" if kind == "datasets" else kind
    return f"{folder}/{_slugify(text)}.yaml"


def _drop_none(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if v is not None and k != "id"} for item in items]


def _in_previous_order(
    items: list[dict[str, Any]], previous: list[dict[str, Any]], key: str
) -> list[dict[str, Any]]:
    rank = {item[key]: i for i, item in enumerate(previous)}
    return sorted(items, key=lambda item: (rank.get(item[key], len(rank)), str(item[key])))


def renumber_charts(dashboard: dict[str, Any]) -> dict[str, Any]:
    """Chart ids in a dashboard file are local: 1, 2, … in layout order. Superset's own ids differ per
    installation; the importer maps ours to its own through the charts' UUIDs."""
    position = dashboard.get("position") or {}
    order: list[str] = []

    def walk(node_id: str) -> None:
        node = position.get(node_id)
        if not isinstance(node, dict):
            return
        if node.get("type") == "CHART":
            order.append(node_id)
        for child in node.get("children", []):
            walk(child)

    walk("ROOT_ID")
    order += sorted(
        k for k, n in position.items() if isinstance(n, dict) and n.get("type") == "CHART" and k not in order
    )
    mapping: dict[int, int] = {}
    for node_id in order:
        meta = position[node_id]["meta"]
        meta["chartId"] = mapping.setdefault(int(meta["chartId"]), len(mapping) + 1)

    def ids(values: list[Any]) -> list[int]:
        return [mapping[int(v)] for v in values if int(v) in mapping]

    metadata = dashboard.get("metadata") or {}
    for native in metadata.get("native_filter_configuration", []):
        native.pop("chartsInScope", None)  # derived from `scope` by Superset's web client
        native.pop("tabsInScope", None)
        if "scope" in native:
            native["scope"]["excluded"] = ids(native["scope"].get("excluded", []))
    if "timed_refresh_immune_slices" in metadata:
        metadata["timed_refresh_immune_slices"] = ids(metadata["timed_refresh_immune_slices"])
    if "expanded_slices" in metadata:
        metadata["expanded_slices"] = {
            str(mapping[int(k)]): v for k, v in metadata["expanded_slices"].items() if int(k) in mapping
        }
    configuration = {}
    for key, value in (metadata.get("chart_configuration") or {}).items():
        if int(key) in mapping:
            value["id"] = mapping[int(key)]
            scope = value.get("crossFilters", {}).get("scope")
            if isinstance(scope, dict):
                scope["excluded"] = ids(scope.get("excluded", []))
            configuration[str(mapping[int(key)])] = value
    if "chart_configuration" in metadata:
        metadata["chart_configuration"] = configuration
    global_scope = metadata.get("global_chart_configuration", {}).get("scope")
    if isinstance(global_scope, dict):
        global_scope["excluded"] = ids(global_scope.get("excluded", []))
    metadata.get("global_chart_configuration", {}).pop("chartsInScope", None)
    return dashboard


def normalise(kind: str, config: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Drops what Superset adds on export that says nothing about the dashboards, so that exporting right
    after an import changes no file."""
    config = copy.deepcopy(config)
    previous = previous or {}
    # Fields a newer Superset adds empty: keep the files as they were.
    for key in [k for k, v in config.items() if v is None and k not in previous]:
        del config[key]
    if kind == "databases":
        # The committed URI is the local default; the real one is given at import time.
        if previous.get("sqlalchemy_uri"):
            config["sqlalchemy_uri"] = previous["sqlalchemy_uri"]
        config.pop("password", None)
    elif kind == "datasets":
        config["columns"] = _in_previous_order(
            _drop_none(config.get("columns", [])), previous.get("columns", []), "column_name"
        )
        config["metrics"] = _in_previous_order(
            _drop_none(config.get("metrics", [])), previous.get("metrics", []), "metric_name"
        )
    elif kind == "charts":
        params = config.get("params") or {}
        for volatile in ("slice_id", "datasource", "dashboards", "url_params"):
            params.pop(volatile, None)
        if params.get("annotation_layers") == []:
            params.pop("annotation_layers")
        # Rebuilt at import time for the chart types dashboards/query_context.py knows; others keep theirs.
        if config.get("query_context") and params.get("viz_type", config.get("viz_type")) in SUPPORTED:
            config["query_context"] = None
    elif kind == "dashboards":
        if config.get("theme_uuid") is None:
            config.pop("theme_uuid", None)
        metadata = config.setdefault("metadata", {})
        metadata.pop("default_filters", None)  # the legacy filter-box defaults; native filters replace them
        # The auto-refresh interval is chosen at import time (--refresh-seconds); the file keeps its default.
        if "refresh_frequency" in (previous.get("metadata") or {}):
            metadata["refresh_frequency"] = previous["metadata"]["refresh_frequency"]
        renumber_charts(config)
    return config
