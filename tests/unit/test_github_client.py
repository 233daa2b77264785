"""The GitHub client factory: credentials from the settings, and one line for a GitHub that cannot be reached."""

import pytest
import requests
from github import Auth

from adapters.github_client import SharedInstallationAuth, call, credentials, make_github
from devstack.process import free_port
from pillarstream.errors import ConfigError, GitHubUnreachable
from pillarstream.settings import load_settings

pytestmark = pytest.mark.unit


def test_a_refused_connection_is_one_line_naming_host_port_and_cause():
    port = free_port()  # nothing listens there
    gh = make_github(f"http://127.0.0.1:{port}", Auth.Token("t"))
    with pytest.raises(GitHubUnreachable) as caught:
        call("find owner", lambda: gh.get_organization("acme"), f"http://127.0.0.1:{port}")
    assert str(caught.value) == f"cannot reach GitHub at 127.0.0.1:{port} (connection refused)"
    assert caught.value.refused and caught.value.exit_code == 69


def test_an_unknown_host_is_named_too():
    with pytest.raises(GitHubUnreachable) as caught:
        call("get", lambda: requests.get("http://no-such-host.invalid/x", timeout=5))
    assert str(caught.value) == "cannot reach GitHub at no-such-host.invalid:80 (host name not resolved)"


def test_a_github_app_needs_its_key_and_finds_nothing_without_an_account(tmp_path, monkeypatch):
    monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_ID", "123")
    with pytest.raises(ConfigError, match="GITHUB_APP_PRIVATE_KEY_FILE"):
        credentials(load_settings(), "https://api.github.com", org="acme")
    key = tmp_path / "app.pem"
    key.write_text("not a key")
    monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_PRIVATE_KEY_FILE", str(key))
    with pytest.raises(ConfigError, match="not a PEM private key"):
        credentials(load_settings(), "https://api.github.com", org="acme")
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="GITHUB_APP_INSTALLATION_ID"):
        credentials(load_settings(), "https://api.github.com")
    monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_INSTALLATION_ID", "77")
    [found] = credentials(load_settings(), "https://api.github.com")  # no request until a token is needed
    assert found.name == "app 123 installation 77" and isinstance(found.auth, SharedInstallationAuth)
    assert "abc" not in repr(found)
