"""GitHub App authentication: installation tokens minted for a JWT signed with the App's key, found from the
organisation, refreshed before they expire during a long run; the same history as with a personal token."""

from __future__ import annotations

import time

import pytest
import requests

from adapters.github_client import credentials, github_for
from backfill.ratelimit import TokenPool
from pillarstream.settings import load_settings
from tests.fake_github.apps import new_private_key
from tests.fake_github.harness import backfill_in_process
from tests.fake_github.history import rest_state
from tests.fake_github.server import FakeGitHub
from tests.scenario import ORG, acme_history

pytestmark = pytest.mark.integration
APP_ID, INSTALLATION = 4242, 777


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    return new_private_key()


def app_settings(tmp_path, monkeypatch, private_key: str, fake: FakeGitHub, installation: int | None = None):
    key = tmp_path / "app.pem"
    key.write_text(private_key)
    monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_ID", str(APP_ID))
    monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_PRIVATE_KEY_FILE", str(key))
    monkeypatch.setenv("PILLARSTREAM_GITHUB_API_URL", fake.url)
    monkeypatch.delenv("PILLARSTREAM_GITHUB_TOKEN", raising=False)
    if installation is not None:
        monkeypatch.setenv("PILLARSTREAM_GITHUB_APP_INSTALLATION_ID", str(installation))
    return load_settings()


def test_installation_tokens_are_refreshed_before_they_expire_during_a_long_run(tmp_path, monkeypatch, app_key):
    private, public = app_key
    with FakeGitHub(rest_state(acme_history())) as fake:
        expected = {e.delivery_id for e in backfill_in_process(fake, tmp_path / "token")}
        fake.apps.add(APP_ID, public, {ORG: INSTALLATION})
        # PyGithub renews a token 20 s before it expires. GitHub's expires_at is in whole seconds, so a 20 s
        # token is due for renewal as soon as it is issued: each request of the run takes a new one, however fast
        # the run (with 21 s tokens a run shorter than a second could finish on its first token: CI saw it).
        fake.apps.token_ttl_s = 20.0
        fake.latency_s = 0.1
        fake.reset_log()
        settings = app_settings(tmp_path, monkeypatch, private, fake)
        [app] = credentials(settings, fake.url, org=ORG)  # the installation is found from the organisation
        assert app.name == f"app {APP_ID} installation {INSTALLATION}"
        pool = TokenPool([app.auth], names=[app.name], reserve=0)
        got = {e.delivery_id for e in backfill_in_process(fake, tmp_path / "app", pool=pool)}
        served = fake.requests()
    assert got == expected
    assert len(fake.apps.issued) >= 2, fake.apps.issued
    assert [s.key for s in served if s.status == 401] == []
    tokens = {s.token for s in served if s.path.startswith("/repos/")}
    assert len(tokens) >= 2 and all(t.startswith("ghs_") for t in tokens)
    # One budget per installation, whatever token is in use: the fake counts them together.
    assert {fake.budget_key(t) for t in tokens} <= {f"installation {INSTALLATION}", ""}


def test_an_expired_or_forged_token_is_refused_and_the_webhook_commands_use_the_app(tmp_path, monkeypatch, app_key):
    private, public = app_key
    other_private, _ = new_private_key()
    with FakeGitHub(rest_state(acme_history())) as fake:
        fake.apps.add(APP_ID, public, {ORG: INSTALLATION})
        fake.apps.token_ttl_s = 1.0
        settings = app_settings(tmp_path, monkeypatch, private, fake, installation=INSTALLATION)
        gh = github_for(settings, fake.url, org=ORG)
        assert gh.get_organization(ORG).login == ORG  # through a minted installation token
        token, _ = fake.apps.issue(INSTALLATION)
        assert requests.get(f"{fake.url}/orgs/{ORG}", headers={"Authorization": f"token {token}"},
                            timeout=5).status_code == 200
        time.sleep(1.2)
        assert requests.get(f"{fake.url}/orgs/{ORG}", headers={"Authorization": f"token {token}"},
                            timeout=5).status_code == 401
        forged = app_settings(tmp_path, monkeypatch, other_private, fake, installation=INSTALLATION)
        [wrong] = credentials(forged, fake.url, org=ORG)
        with pytest.raises(Exception, match="401"):
            _ = wrong.auth.token
