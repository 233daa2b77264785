"""Superset stage (marker `superset`): `pillarstream dashboards import` is idempotent, reads the warehouse
only through the read-only role, and `export` writes what was changed in Superset back to the files and
nothing else."""

from __future__ import annotations

import argparse
import shutil
import uuid
from pathlib import Path

import pytest

from dashboards import ASSETS_DIR
from dashboards.bundle import Bundle
from dashboards.cli import add_parser
from dashboards.client import SupersetClient, SupersetError
from devstack.superset_server import SupersetServer
from pillarstream.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.superset]


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dashboards", *argv])
    return int(args.handler(args, load_settings()))


def sql(client: SupersetClient, database_id: int, text: str) -> list[dict[str, object]]:
    answer = client.post(
        "/api/v1/sqllab/execute/",
        {
            "database_id": database_id,
            "sql": text,
            "runAsync": False,
            "schema": "reporting",
            "client_id": uuid.uuid4().hex[:10],
        },
    )
    rows: list[dict[str, object]] = answer["data"]
    return rows


def inventory(client: SupersetClient) -> dict[str, set[str]]:
    return {
        kind: {str(row["uuid"]) for row in client.list_all(kind, ["id", "uuid"])}
        for kind in ("dashboard", "chart", "dataset", "database")
    }


def test_import_again_changes_nothing_and_uses_the_reader_role(
    superset: SupersetServer,
    client: SupersetClient,
    bundle: Bundle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = inventory(client)
    assert before["dashboard"] >= set(bundle.by_uuid("dashboards"))
    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", superset.admin_password)
    # Without a DSN the import keeps the connection (and password) Superset already has.
    monkeypatch.delenv("PILLARSTREAM_READER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PILLARSTREAM_DATA_DIR", str(tmp_path))  # no running `make up` stack there
    assert run_cli("import", "--superset-url", superset.url, "--refresh-seconds", "10") == 0
    assert inventory(client) == before
    (database,) = [
        row for row in client.list_all("database", ["id", "uuid"]) if str(row["uuid"]) == bundle.database_uuid
    ]
    uri = client.get(f"/api/v1/database/{database['id']}/connection")["result"]["sqlalchemy_uri"]
    assert uri.startswith("postgresql+psycopg2://pillarstream_reader:XXXXXXXXXX@127.0.0.1:")
    # The connection still works (Superset kept the password sent at the first import), as the reader.
    assert sql(client, database["id"], "SELECT count(*) > 0 AS ok FROM reporting.metric_catalogue") == [
        {"ok": True}
    ]
    with pytest.raises(SupersetError, match="permission denied"):
        sql(client, database["id"], "SELECT count(*) FROM public.deliveries")


def test_export_after_import_leaves_the_files_as_they_are(
    superset: SupersetServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, copy)
    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", superset.admin_password)
    assert run_cli("export", "--superset-url", superset.url, "--assets", str(copy)) == 0
    assert Bundle.load(copy).files == Bundle.load(ASSETS_DIR).files


def test_export_brings_a_change_made_in_superset_back_to_its_file(
    superset: SupersetServer,
    client: SupersetClient,
    bundle: Bundle,
    chart_ids: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = bundle.files["charts/vcm_prs_per_day.yaml"]
    chart_id = chart_ids[str(config["uuid"])]
    client.put(f"/api/v1/chart/{chart_id}", {"slice_name": "Pull requests, every day"})  # as the UI saves it
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS_DIR, copy)
    monkeypatch.setenv("SUPERSET_ADMIN_PASSWORD", superset.admin_password)
    try:
        assert run_cli("export", "--superset-url", superset.url, "--assets", str(copy)) == 0
    finally:
        client.put(f"/api/v1/chart/{chart_id}", {"slice_name": config["slice_name"]})
    exported, original = Bundle.load(copy).files, Bundle.load(ASSETS_DIR).files
    changed = sorted(path for path in original if exported.get(path) != original[path])
    assert changed == ["charts/vcm_prs_per_day.yaml"]
    assert exported["charts/vcm_prs_per_day.yaml"]["slice_name"] == "Pull requests, every day"


def test_the_local_superset_opens_no_control_socket_shared_with_other_gunicorns(superset: SupersetServer) -> None:
    # gunicorn >= 25.1 listens on ~/.gunicorn/gunicorn.ctl unless told not to: one path for every gunicorn of the
    # user, taken over by the next one started and removed by whichever stops first.
    log = superset.log_path.read_text(errors="replace")
    assert "Booting worker" in log
    assert "Control socket listening" not in log
