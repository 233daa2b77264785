"""A fake GitHub for tests: REST history endpoints and GraphQL (executed against GitHub's public schema) for
the backfill, hooks and deliveries for the webhook reconciler, GitHub App installation tokens, with
pagination, rate limits, faults, ETags and a request log (see server.py)."""

from tests.fake_github.server import FakeGitHub, Served
from tests.fake_github.state import OwnerState, RepoState, RestState

__all__ = ["FakeGitHub", "OwnerState", "RepoState", "RestState", "Served"]
