import pytest

from pillarstream.errors import ConfigError
from pillarstream.settings import load_settings

pytestmark = pytest.mark.unit


def test_every_bad_field_is_named_at_once(monkeypatch):
    monkeypatch.setenv("PILLARSTREAM_TOPIC_PARTITIONS", "zero")
    monkeypatch.setenv("PILLARSTREAM_ARCHIVE_URL", "s3://bucket")
    monkeypatch.setenv("PILLARSTREAM_KAFKA_BOOTSTRAP", "no-port")
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    for name in ("PILLARSTREAM_TOPIC_PARTITIONS", "PILLARSTREAM_ARCHIVE_URL", "PILLARSTREAM_KAFKA_BOOTSTRAP"):
        assert name in message


def test_secrets_from_file_and_never_in_repr(tmp_path, monkeypatch):
    secret_file = tmp_path / "secret"
    secret_file.write_text("old-secret\nnew-secret\n")
    monkeypatch.setenv("PILLARSTREAM_WEBHOOK_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("PILLARSTREAM_DATABASE_URL", "postgresql://u:hunter2@db/x")
    settings = load_settings()
    assert settings.secrets() == ["old-secret", "new-secret"]
    assert settings.dsn() == "postgresql://u:hunter2@db/x"
    assert "hunter2" not in repr(settings) and "old-secret" not in repr(settings)


def test_missing_secret_is_a_config_error(monkeypatch):
    monkeypatch.delenv("PILLARSTREAM_WEBHOOK_SECRETS", raising=False)
    monkeypatch.delenv("PILLARSTREAM_WEBHOOK_SECRET_FILE", raising=False)
    with pytest.raises(ConfigError, match="no webhook secret"):
        load_settings().secrets()


def test_unreadable_secret_file_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PILLARSTREAM_WEBHOOK_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="webhook_secret_file"):
        load_settings().secrets()


def test_default_archive_is_the_local_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("PILLARSTREAM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PILLARSTREAM_ARCHIVE_URL", raising=False)
    assert load_settings().archive == f"file://{tmp_path}/archive"


@pytest.mark.parametrize("given", ["debug", "Debug", "DEBUG"])
def test_log_level_is_accepted_in_any_case(monkeypatch, given):
    monkeypatch.setenv("PILLARSTREAM_LOG_LEVEL", given)
    assert load_settings().log_level == "DEBUG"


def test_an_unknown_log_level_is_still_refused(monkeypatch):
    monkeypatch.setenv("PILLARSTREAM_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="PILLARSTREAM_LOG_LEVEL"):
        load_settings()
