"""terraform/: parses, every reference resolves, and the settings the design depends on are there."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest

from . import terraform_refs as tf
from .contracts import (
    REPO,
    command_problems,
    known_settings,
    missing_settings,
    subcommands,
)

pytestmark = pytest.mark.unit

ROOT = REPO / "terraform"
MODULES = ROOT / "modules"


@pytest.fixture(scope="module")
def tree() -> dict[Path, tf.Module]:
    return tf.load_tree(ROOT)


@pytest.fixture(scope="module")
def root(tree: dict[Path, tf.Module]) -> tf.Module:
    return tree[ROOT.resolve()]


def module(tree: dict[Path, tf.Module], name: str) -> tf.Module:
    return tree[(MODULES / name).resolve()]


def one(blocks: list[dict]) -> dict:
    """The single nested block of a kind (HCL parses nested blocks as lists)."""
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_every_file_parses() -> None:
    # Skip .terraform/ and other hidden folders: they hold downloaded code, not ours.
    files = sorted(
        p for p in ROOT.rglob("*.tf") if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    )
    assert len(files) > 10
    for path in files:
        with path.open(encoding="utf-8") as handle:
            hcl2.load(handle)  # raises on a syntax error, naming the line


def test_every_reference_resolves() -> None:
    problems = tf.tree_problems(ROOT)
    assert not problems, "\n".join(problems)


BROKEN_CHILD = """
variable "needed" {
  type = string
}

output "real" {
  value = var.needed
}
"""

BROKEN_ROOT = """
terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

variable "used" {
  type = string
}

module "c" {
  source = "./child"
  typo   = var.used
}

resource "google_storage_bucket" "b" {
  name     = "${var.missing}-${local.nothing}-${module.c.fake}"
  location = google_sql_user.none.name
  labels   = data.x.y.z
}
"""


def test_resolver_catches_broken_references(tmp_path: Path) -> None:
    """The resolver must fail on the mistakes it claims to find, or the test above proves nothing."""
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "main.tf").write_text(BROKEN_CHILD)
    (tmp_path / "main.tf").write_text(BROKEN_ROOT)
    problems = "\n".join(tf.tree_problems(tmp_path))
    for expected in (
        "var.missing",
        "local.nothing",
        "module.c.fake",
        "google_sql_user.none",
        "data.x.y",
        "passes 'typo'",
        "required variable 'needed'",
    ):
        assert expected in problems, expected


def test_every_module_is_used(tree: dict[Path, tf.Module]) -> None:
    unused = {p.resolve() for p in MODULES.iterdir() if p.is_dir()} - tree.keys()
    assert not unused, f"modules no configuration calls: {sorted(p.name for p in unused)}"


def test_variables_and_outputs_are_documented(tree: dict[Path, tf.Module]) -> None:
    problems = []
    for mod in tree.values():
        for name, spec in mod.variables.items():
            if not str(spec.get("description", "")).strip() or "type" not in spec:
                problems.append(f"{mod.path.name}: variable {name} needs a description and a type")
        for name, spec in mod.outputs.items():
            if not str(spec.get("description", "")).strip():
                problems.append(f"{mod.path.name}: output {name} needs a description")
    assert not problems, "\n".join(problems)


# --- the processes ---------------------------------------------------------------------------------


def processes(root: tf.Module) -> dict[str, dict]:
    return root.locals["processes"]


def process_env(root: tf.Module, process: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for name in process["env_sets"]:
        env.update(root.locals["env_sets"][name])
    env.update(process["env"])
    env.update({var: f"<secret {key}>" for var, key in process["secrets"].items()})
    return env


def test_every_process_runs_a_pillarstream_subcommand(root: tf.Module) -> None:
    names = subcommands()
    problems = [
        f"{n}: {p}" for n, proc in processes(root).items() for p in command_problems(proc["args"], names)
    ]
    assert not problems, "\n".join(problems)


def test_every_process_gets_the_settings_it_requires(root: tf.Module) -> None:
    known = known_settings()
    problems = []
    for name, proc in processes(root).items():
        env = process_env(root, proc)
        problems += [f"{name}: {m} is not set" for m in missing_settings(proc["args"], env)]
        problems += [
            f"{name}: {v} is not a pillarstream setting"
            for v in env
            if v.startswith("PILLARSTREAM_") and v not in known
        ]
        problems += [
            f"{name}: secret {k!r} is not declared"
            for k in proc["secrets"].values()
            if k not in root.locals["secret_specs"]
        ]
    assert not problems, "\n".join(problems)


def test_every_process_has_its_own_service_account(root: tf.Module, tree: dict[Path, tf.Module]) -> None:
    assert "keys(local.processes)" in root.calls["service_accounts"]["processes"]
    accounts = module(tree, "service_accounts").resources[("google_service_account", "this")]
    assert accounts["for_each"] == "${toset(var.processes)}"
    # Secret access is derived from what each process mounts, never granted wholesale.
    assert "contains(values(p.secrets), key)" in root.calls["secrets"]["secrets"]


def test_workers_are_long_running_and_jobs_are_scheduled(
    root: tf.Module, tree: dict[Path, tf.Module]
) -> None:
    assert ("google_cloud_run_v2_worker_pool", "this") in module(tree, "workers").resources
    assert (
        "archiver = var.archiver_instances, warehouse = var.warehouse_instances"
        in root.calls["workers"]["pools"]
    )
    jobs = root.calls["jobs"]["jobs"]
    assert "backfill = var.backfill_schedule" in jobs and "reconciler = var.reconciler_schedule" in jobs
    assert ("google_cloud_scheduler_job", "this") in module(tree, "jobs").resources
    assert processes(root)["reconciler"]["args"][:2] == ["webhook", "redeliver"]


# --- the settings the no-loss promise and the security model rest on --------------------------------


def test_raw_topic_is_durable(tree: dict[Path, tf.Module]) -> None:
    kafka = module(tree, "managed_kafka")
    topic = kafka.resources[("google_managed_kafka_topic", "raw")]
    assert topic["replication_factor"] == 3
    assert topic["configs"]["min.insync.replicas"] == "2"
    assert topic["configs"]["unclean.leader.election.enable"] == "false"
    access = one(
        one(kafka.resources[("google_managed_kafka_cluster", "this")]["gcp_config"])["access_config"]
    )
    assert "public_cluster_config" not in access, "brokers must stay private"


def test_receiver_answers_within_githubs_ten_seconds(root: tf.Module, tree: dict[Path, tf.Module]) -> None:
    receiver = module(tree, "receiver")
    assert receiver.variables["request_timeout_seconds"]["default"] < 10
    template = one(receiver.resources[("google_cloud_run_v2_service", "receiver")]["template"])
    assert template["timeout"] == "${var.request_timeout_seconds}s"
    assert one(template["scaling"])["min_instance_count"] == "${var.min_instances}"
    assert template["max_instance_request_concurrency"] == "${var.concurrency}"
    assert root.variables["receiver_min_instances"]["default"] >= 1


def test_archive_bucket_is_private_versioned_and_tiered(tree: dict[Path, tf.Module]) -> None:
    archive = module(tree, "archive_bucket")
    bucket = archive.resources[("google_storage_bucket", "archive")]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert one(bucket["versioning"])["enabled"] is True
    classes = {one(rule["action"]).get("storage_class") for rule in bucket["lifecycle_rule"]}
    assert {"NEARLINE", "COLDLINE", "ARCHIVE"} <= classes
    # Writers can create objects but never replace or delete them.
    assert (
        archive.resources[("google_storage_bucket_iam_member", "writers")]["role"]
        == "roles/storage.objectCreator"
    )


def test_database_is_private_and_recoverable(tree: dict[Path, tf.Module]) -> None:
    sql = module(tree, "cloud_sql")
    settings = one(sql.resources[("google_sql_database_instance", "this")]["settings"])
    ip = one(settings["ip_configuration"])
    assert ip["ipv4_enabled"] is False and ip["private_network"] == "${var.network_id}"
    backup = one(settings["backup_configuration"])
    assert backup["enabled"] is True and backup["point_in_time_recovery_enabled"] is True
    roles = sql.locals["roles"]  # ${toset(["owner", "writer", "reader"])}
    assert '"writer"' in roles and '"reader"' in roles
    assert sql.resources[("google_sql_user", "users")]["name"] == "pillarstream_${each.key}"


def test_webhook_points_at_the_receiver_with_the_newest_secret(
    root: tf.Module, tree: dict[Path, tf.Module]
) -> None:
    call = root.calls["github_webhook"]
    assert call["url"] == "${module.receiver.url}/webhooks/github"
    assert call["secret"] == "${random_password.webhook[local.newest_generation].result}"
    assert call["depends_on"] == ["${module.receiver}"], (
        "GitHub must switch secrets only after the receiver has"
    )
    hook = module(tree, "github_webhook").resources[("github_organization_webhook", "receiver")]
    config = one(hook["configuration"])
    assert config["content_type"] == "json" and config["insecure_ssl"] is False
