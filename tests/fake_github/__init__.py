"""A fake GitHub REST API for tests: history endpoints for the backfill, hooks and deliveries for the
webhook reconciler, with pagination, rate limits, faults, ETags and a request log (see server.py)."""

from tests.fake_github.server import FakeGitHub, Served
from tests.fake_github.state import OwnerState, RepoState, RestState

__all__ = ["FakeGitHub", "OwnerState", "RepoState", "RestState", "Served"]
