"""PyGithub, configured once: API base URL (GitHub Enterprise Server too), bounded retries, wrapped errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from github import Auth, Github, GithubException
from urllib3.util.retry import Retry

from pillarstream.errors import ConfigError, GitHubAPIError

T = TypeVar("T")


def make_github(api_url: str, token: str | None, *, timeout: float = 15.0) -> Github:
    if not token:
        raise ConfigError("no GitHub token: set PILLARSTREAM_GITHUB_TOKEN or PILLARSTREAM_GITHUB_TOKEN_FILE")
    # Bounded: a few quick retries on transient answers, never a sleep longer than 30 s.
    retry = Retry(total=4, backoff_factor=0.5, backoff_max=30, status_forcelist=(502, 503, 504),
                  respect_retry_after_header=True, allowed_methods=None)
    return Github(base_url=api_url.rstrip("/"), auth=Auth.Token(token), timeout=int(timeout), retry=retry,
                  per_page=100)


def call(what: str, fn: Callable[[], T]) -> T:
    """Run a PyGithub call; its errors become :class:`GitHubAPIError` with a ``retriable`` verdict."""
    try:
        return fn()
    except GithubException as exc:
        retriable = exc.status in (429, 500, 502, 503, 504) or (
            exc.status == 403 and "rate limit" in str(exc.data).lower())
        raise GitHubAPIError(f"{what}: GitHub answered {exc.status}: {_message(exc.data)}",
                             retriable=retriable, status=exc.status) from exc


def _message(data: Any) -> str:
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)
