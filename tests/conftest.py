"""Fixtures shared by every test: an isolated store on SQLite and, when available, PostgreSQL."""

from __future__ import annotations

import os
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from _stores import fresh_store_url
from shopveil._core.budgets import ApproxDP
from shopveil.dp import Ledger, PeopleKey
from shopveil.keys import Keyring
from shopveil.store import Store

# One Hypothesis profile for the whole suite. No deadline: on a loaded machine a
# property's first example (imports, a store, a JIT) can take seconds, and speed is
# measured by the benchmarks, not by tests. A test asks for fewer examples only where
# each example is slow, and says why next to its @settings. "ci" runs more examples.
settings.register_profile("shopveil", deadline=None, max_examples=50, print_blob=True)
settings.register_profile("ci", settings.get_profile("shopveil"), max_examples=200)
settings.load_profile(os.environ.get("SHOPVEIL_HYPOTHESIS_PROFILE", "shopveil"))

# The command line's Rich consoles fix their width when first imported if COLUMNS is set
# then. Imported here, before any test sets COLUMNS for one command, they read it at each
# print instead, so a test's own width holds whichever test ran first in this process.
os.environ.pop("COLUMNS", None)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # typer's click helpers; not ours
    import shopveil._commands._common  # noqa: F401

PG_URL = os.environ.get("SHOPVEIL_TEST_PG_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own SHOPVEIL_HOME, key folder and no inherited key or database."""
    monkeypatch.setenv("SHOPVEIL_HOME", str(tmp_path / "home"))
    # The default key file lives under XDG_CONFIG_HOME: never the real home directory.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SHOPVEIL_KEY_FILE", raising=False)
    monkeypatch.delenv("SHOPVEIL_DB_URL", raising=False)
    monkeypatch.delenv("SHOPVEIL_MASTER_KEY", raising=False)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty store: a SQLite file, or a fresh PostgreSQL schema."""
    with fresh_store_url(request.param, tmp_path, PG_URL) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on an empty database (each backend in turn), closed afterwards."""
    opened = Store.open(store_url)
    yield opened
    opened.close()


@pytest.fixture
def scratch_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger with room for any experiment, for tests about what a fit computes."""
    opened = Store.open(f"sqlite:///{tmp_path / 'scratch-ledger.db'}")
    yield Ledger(
        opened, default_total=ApproxDP(1e9, 0.5), people_key=PeopleKey(secrets.token_bytes(32))
    )
    opened.close()


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyring]:
    """A real keyring on a SQLite store, with a random master key (shared: it is read-only)."""
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('keyring') / 'keys.db'}")
    try:
        yield Keyring.open(store, master_key=secrets.token_bytes(32))
    finally:
        store.close()
