"""pytest fixture for the fake GitHub.

Import it into a conftest: ``from tests.fake_github.fixtures import fake_github``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_github.server import FakeGitHub

TOKEN = "test-token"


@pytest.fixture()
def fake_github() -> Iterator[FakeGitHub]:
    """An empty fake GitHub on a free port (token ``test-token``); fill ``fake_github.state`` or call
    ``fake_github.state.add_owner(...)``. Stopped at the end of the test."""
    server = FakeGitHub(tokens=(TOKEN,)).start()
    try:
        yield server
    finally:
        server.stop()
