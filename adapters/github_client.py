"""The one PyGithub client factory for every GitHub-facing command (webhook commands, reconciler, backfill).

Credentials come from the settings: personal tokens (``GITHUB_TOKEN`` / ``_FILE``, several share a
backfill's work) or a GitHub App (``GITHUB_APP_ID``, ``GITHUB_APP_PRIVATE_KEY_FILE`` and
``GITHUB_APP_INSTALLATION_ID``, or the installation found from the account). An App authenticates through
PyGithub's ``Auth.AppAuth`` and ``AppInstallationAuth``, which mints installation tokens and refreshes them
before they expire. Library and transport errors become :class:`GitHubAPIError` here; a GitHub that cannot
be reached at all (connection refused, unknown host) becomes :class:`GitHubUnreachable` at once -- that is
not a rate limit, and waiting would not help.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from github import Auth, Github, GithubException, GithubIntegration
from urllib3.util.retry import Retry

from pillarstream.errors import ConfigError, GitHubAPIError, GitHubUnreachable
from pillarstream.settings import Settings

T = TypeVar("T")
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Credential:
    """One identity requests are made as; ``name`` is what logs and summaries show (never the secret)."""

    name: str
    auth: Auth.Auth


class SharedInstallationAuth(Auth.Auth):
    """An App installation's auth shared by several threads' clients: one token at a time, minted and
    refreshed (PyGithub refreshes 20 s before ``expires_at``) under a lock."""

    def __init__(self, installation: Auth.AppInstallationAuth) -> None:
        self._installation = installation
        self._lock = threading.Lock()

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        with self._lock:
            return self._installation.token

    @property
    def _masked_token(self) -> str:
        return "token (installation token removed)"


def command_retry() -> Retry:
    """Transport retry for commands: a few quick tries on transient answers, never a sleep over 4 s, and
    no retry of a connection that could not be made (fail fast: see :func:`unreachable`)."""
    return Retry(total=3, connect=0, read=2, status=2, backoff_factor=0.25, backoff_max=4.0,
                 status_forcelist=(502, 503, 504), allowed_methods=None, respect_retry_after_header=False,
                 raise_on_status=False)


def make_github(api_url: str, auth: Auth.Auth, *, timeout: float = 15.0, retry: Retry | None = None,
                pace_s: float | None = None) -> Github:
    return Github(base_url=api_url.rstrip("/"), auth=auth, timeout=int(timeout), retry=retry or command_retry(),
                  per_page=100, seconds_between_requests=pace_s, seconds_between_writes=None)


def split_tokens(raw: str | None) -> list[str]:
    """Several tokens, comma- or line-separated, share a backfill's work."""
    return [t for t in _SPLIT.split(raw or "") if t]


def credentials(settings: Settings, api_url: str, *, org: str | None = None, user: str | None = None,
                repo: str | None = None) -> list[Credential]:
    """Who requests are made as: the GitHub App's installation when an App is configured (its
    installation id, or the one installed on ``org`` / ``user`` / ``repo``), else the personal tokens."""
    if settings.github_app_id is not None:
        return [app_credential(settings, api_url, org=org, user=user, repo=repo)]
    found = split_tokens(settings.token())
    if not found:
        raise ConfigError("no GitHub credentials: set PILLARSTREAM_GITHUB_TOKEN (or _FILE), or a GitHub App "
                          "(PILLARSTREAM_GITHUB_APP_ID and PILLARSTREAM_GITHUB_APP_PRIVATE_KEY_FILE)")
    return [Credential(f"token {i + 1}", Auth.Token(t)) for i, t in enumerate(found)]


def app_credential(settings: Settings, api_url: str, *, org: str | None = None, user: str | None = None,
                   repo: str | None = None) -> Credential:
    key = settings.app_private_key()
    app = Auth.AppAuth(int(settings.github_app_id or 0), key)
    installation_id = settings.github_app_installation_id
    if installation_id is None:
        integration = GithubIntegration(auth=app, base_url=api_url.rstrip("/"), retry=command_retry(), timeout=15)
        if org:
            found = call("find the App's installation", lambda: integration.get_org_installation(org), api_url)
        elif repo and "/" in repo:
            owner, name = repo.split("/", 1)
            found = call("find the App's installation", lambda: integration.get_repo_installation(owner, name),
                         api_url)
        elif user:
            found = call("find the App's installation", lambda: integration.get_user_installation(user), api_url)
        else:
            raise ConfigError("set PILLARSTREAM_GITHUB_APP_INSTALLATION_ID (no account to find it from)")
        installation_id = int(found.id)
    installation = app.get_installation_auth(int(installation_id))
    # Binding it to a client gives it the requester that mints tokens (with the same base URL and retry).
    make_github(api_url, installation)
    return Credential(f"app {settings.github_app_id} installation {installation_id}",
                      SharedInstallationAuth(installation))


def github_for(settings: Settings, api_url: str | None = None, *, org: str | None = None,
               repo: str | None = None) -> Github:
    """A client for a command acting on one account (the first credential)."""
    url = api_url or settings.github_api_url
    return make_github(url, credentials(settings, url, org=org, repo=repo)[0].auth)


def call(what: str, fn: Callable[[], T], api_url: str | None = None) -> T:
    """Run a PyGithub call; its errors become :class:`GitHubAPIError` with a ``retriable`` verdict."""
    try:
        return fn()
    except GithubException as exc:
        retriable = exc.status in (429, 500, 502, 503, 504) or (
            exc.status == 403 and "rate limit" in str(exc.data).lower())
        raise GitHubAPIError(f"{what}: GitHub answered {exc.status}: {_message(exc.data)}",
                             retriable=retriable, status=exc.status) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise unreachable(exc, api_url or "GitHub") from exc


def unreachable(exc: BaseException, url: str) -> GitHubUnreachable:
    """One line naming the host and the cause of a transport failure."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host: Any = parts.hostname or url
    port: Any = parts.port or (443 if parts.scheme == "https" else 80)
    pool: Any = next((e.pool for e in _chain(exc) if isinstance(e, urllib3.exceptions.PoolError)), None)
    if pool is not None and getattr(pool, "host", None):  # where the request really went (a redirect, a proxy)
        host, port = pool.host, pool.port or port
    return GitHubUnreachable(f"cannot reach GitHub at {host}:{port} ({transport_cause(exc)})",
                             refused=connection_failed(exc))


def connection_failed(exc: BaseException) -> bool:
    """True when no connection could be made at all (refused, unknown host, no route): asking again at
    once will not help, so a run stops instead of waiting as for a rate limit."""
    return any(isinstance(e, (ConnectionRefusedError, socket.gaierror, urllib3.exceptions.NewConnectionError,
                              urllib3.exceptions.NameResolutionError))
               for e in _chain(exc))


_CAUSES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (ConnectionRefusedError, "connection refused"),  # first: urllib3's NewConnectionError is a timeout type
    ((socket.gaierror, urllib3.exceptions.NameResolutionError), "host name not resolved"),
    (ConnectionResetError, "connection reset"),
    ((TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout), "timed out"),
)


def transport_cause(exc: BaseException) -> str:
    chain = _chain(exc)
    for types, cause in _CAUSES:
        if any(isinstance(e, types) for e in chain):
            return cause
    found = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    return str(found.strerror).lower() if found is not None else type(exc).__name__


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and contexts, and what urllib3's MaxRetryError wraps as ``reason``."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None) if isinstance(
            getattr(e, "reason", None), BaseException) else None]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    return seen


def _message(data: Any) -> str:
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)
