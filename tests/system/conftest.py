"""The running service the service tests share: one per store backend, for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _served import BACKENDS, Served, serve


@pytest.fixture(scope="session", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``shopveil serve`` on a fresh store with a key per role, a dataset and a model."""
    with serve(request.param, tmp_path_factory.mktemp("service")) as running:
        yield running
