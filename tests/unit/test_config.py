"""Pillar configuration: the shipped file, defaults, and validation that lists every error at once."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pillarstream.config import (
    DEFAULT_PATH,
    SCHEMA_PATH,
    BotPolicy,
    PillarConfig,
    load_pillar_config,
    load_schema,
    parse_pillar_config,
    validation_errors,
)
from pillarstream.errors import ConfigError

pytestmark = pytest.mark.unit


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "pillars.json"
    path.write_text(json.dumps(data))
    return path


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(load_schema(SCHEMA_PATH))


def test_the_shipped_config_is_valid_and_is_the_default():
    config = load_pillar_config()
    assert config == load_pillar_config(DEFAULT_PATH)
    assert config.bots == BotPolicy(sender_types=frozenset({"Bot"}), login_suffixes=("[bot]",),
                                    logins=frozenset())
    assert config.production_environments == frozenset({"production"})
    assert config.incident_labels == frozenset({"incident"})


def test_omitted_sections_take_documented_defaults(tmp_path):
    assert load_pillar_config(write(tmp_path, {"version": 1})) == PillarConfig()


def test_names_are_compared_case_insensitively(tmp_path):
    config = load_pillar_config(write(tmp_path, {
        "version": 1, "production_environments": ["Prod", "production-eu"], "incident_labels": ["SEV1"],
        "bots": {"logins": ["Deploy-User"], "login_suffixes": ["-BOT"]}}))
    assert config.is_production("prod") and config.is_production("PRODUCTION-EU")
    assert not config.is_production("staging") and not config.is_production(None)
    assert config.is_incident(["bug", "sev1"]) and not config.is_incident(["bug"])
    assert config.bots.is_bot("deploy-user") and config.bots.is_bot("ci-bot")


def test_every_error_is_listed_at_once(tmp_path):
    path = write(tmp_path, {
        "version": 2,
        "bots": {"sender_types": "Bot", "logins": ["ok", ""]},
        "production_environments": [],
        "incident_labels": ["incident", "incident"],
        "surprise": True,
    })
    with pytest.raises(ConfigError) as caught:
        load_pillar_config(path)
    message = str(caught.value)
    assert "(7 errors)" in message
    for fragment in ("$.version", "$.bots.sender_types", "$.bots.logins[1]", "$.production_environments",
                     "$.incident_labels", "surprise"):
        assert fragment in message, fragment
    assert str(path) in message


def test_validation_errors_are_plain_lines_in_document_order():
    errors = validation_errors({"version": 1, "production_environments": [3], "bots": {"logins": [" "]}})
    assert errors == [
        "at $.bots.logins[0]: ' ' does not match '^[^\\\\s]+$'",
        "at $.production_environments[0]: 3 is not of type 'string'",
    ]


def test_unreadable_or_malformed_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read pillar config"):
        load_pillar_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(ConfigError, match="is not JSON"):
        load_pillar_config(bad)
    with pytest.raises(ConfigError, match="'version' is a required property"):
        parse_pillar_config({})
    with pytest.raises(ConfigError, match="is not of type 'object'"):
        parse_pillar_config([])
