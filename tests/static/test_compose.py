"""docker-compose.yml: valid Compose, real entry points, every required setting, healthy ordering."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from . import compose
from .contracts import REPO, command_problems, known_settings, missing_settings, subcommands

pytestmark = pytest.mark.unit

SCHEMA = REPO / "tests" / "fixtures" / "compose-spec.json"
# Compose durations: 1h30m, 10s, 500ms, 1.5s ...
DURATION = re.compile(r"^(\d+(\.\d+)?(us|ms|s|m|h))+$")
ONE_SHOT_PROFILES = {
    "migrate": "migrate",
    "backfill": "backfill",
    "webhook-redeliver": "webhook",
    "replay": "replay",
}
WORKERS = ("archiver", "warehouse")
PLACEHOLDER = "change-me"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")


@pytest.fixture(scope="module")
def services() -> dict:
    return compose.resolved()["services"]


def app_services(services: dict) -> dict:
    found = {name: s for name, s in services.items() if compose.is_app(s)}
    assert found, "no service runs the pillarstream image"
    return found


def test_validates_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    formats = jsonschema.FormatChecker(formats=())
    formats.checks("duration")(lambda value: not isinstance(value, str) or bool(DURATION.match(value)))
    # The schema names draft 2019-09 by an URL jsonschema does not recognise, so pick it explicitly.
    validator = jsonschema.Draft201909Validator(schema, format_checker=formats)
    # Validated after interpolation, as Compose does: ${PORT} in a port list must become a port.
    errors = sorted(validator.iter_errors(compose.resolved()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_every_command_is_a_pillarstream_subcommand(services: dict) -> None:
    names = subcommands()
    problems = []
    for name, service in app_services(services).items():
        if "entrypoint" in service:
            problems.append(f"{name}: overrides the image's pillarstream entry point")
        problems += [f"{name}: {p}" for p in command_problems(compose.command(service), names)]
    assert not problems, "\n".join(problems)


def test_every_process_gets_the_settings_it_requires(services: dict) -> None:
    problems = []
    for name, service in app_services(services).items():
        missing = missing_settings(compose.command(service), compose.environment(service))
        problems += [f"{name}: {m} is not set" for m in missing]
    assert not problems, "\n".join(problems)


def test_every_pillarstream_variable_is_a_real_setting(services: dict) -> None:
    known = known_settings()
    unknown = {
        f"{name}: {var}"
        for name, service in app_services(services).items()
        for var in compose.environment(service)
        if var.startswith("PILLARSTREAM_") and var not in known
    }
    assert not unknown, "\n".join(sorted(unknown))


def test_env_example_defines_every_variable_without_a_default() -> None:
    example = compose.read_env_file()
    referenced = compose.variables(compose.COMPOSE_FILE.read_text(encoding="utf-8"))
    undefined = {name for name, op in referenced if op in (None, ":?", "?") and name not in example}
    unused = example.keys() - {name for name, _ in referenced}
    assert not undefined, f"used without a default but missing from .env.example: {sorted(undefined)}"
    assert not unused, f".env.example sets variables docker-compose.yml never uses: {sorted(unused)}"


def test_env_example_holds_no_real_secret() -> None:
    real = [
        k
        for k, v in compose.read_env_file().items()
        if SECRET_NAME.search(k) and not v.startswith(PLACEHOLDER)
    ]
    assert not real, f"secrets in .env.example must be {PLACEHOLDER}... placeholders: {real}"
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split(), ".env must be git-ignored"


def test_long_running_services_have_health_checks(services: dict) -> None:
    missing = [
        name
        for name, s in services.items()
        if not compose.is_one_shot(s)
        and name not in WORKERS
        and (not s.get("healthcheck") or s["healthcheck"].get("disable"))
    ]
    assert not missing, f"long-running services without a health check: {missing}"


def test_start_order_waits_for_health_or_completion(services: dict) -> None:
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without a condition")
            continue
        for target, spec in depends.items():
            condition, other = spec["condition"], services[target]
            if compose.is_one_shot(other) and condition != "service_completed_successfully":
                problems.append(f"{name}: waits for one-shot {target} with {condition}")
            if not compose.is_one_shot(other) and condition != "service_healthy":
                problems.append(f"{name}: waits for {target} with {condition}, not service_healthy")
            if "profiles" in other and "profiles" not in service:
                problems.append(f"{name}: depends on {target}, which only starts in a profile")
    assert not problems, "\n".join(problems)


def test_volumes_are_named_and_declared() -> None:
    data = compose.raw()
    declared = set(data.get("volumes") or {})
    problems = []
    for name, service in data["services"].items():
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source not in declared:
                problems.append(f"{name}: {source!r} is a bind mount or an undeclared volume")
    assert not problems, "\n".join(problems)


def test_workers_scale_with_the_scale_flag(services: dict) -> None:
    for name in WORKERS:
        service = services[name]
        assert compose.command(service)[:2] == ["worker", name]
        # A fixed name or a host port would make a second replica fail to start.
        assert "container_name" not in service and "ports" not in service, name


def test_one_shot_jobs_are_profiles(services: dict) -> None:
    for name, profile in ONE_SHOT_PROFILES.items():
        assert services[name].get("profiles") == [profile], name
        assert compose.is_one_shot(services[name]), f"{name} must not restart"


def test_superset_and_its_init_are_present(services: dict) -> None:
    assert (
        services["superset"]["depends_on"]["superset-init"]["condition"] == "service_completed_successfully"
    )
    assert "superset db upgrade" in " ".join(compose.command(services["superset-init"]))
