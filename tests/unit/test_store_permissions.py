"""The SQLite store holds wrapped keys, vault ciphertexts and the ledger: owner-only files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopveil.audit import AuditLog
from shopveil.keys import Keyring
from shopveil.store import Store


@pytest.fixture
def usual_umask() -> Iterator[None]:
    # The common default, under which a file created without an explicit mode is 0644.
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_a_new_store_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        # Write while the store is open, so the -wal and -shm files exist.
        AuditLog(store, Keyring.open(store)).append("steward", "keys.init")
        files = [path, path.with_name("store.db-wal"), path.with_name("store.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        store.close()


@pytest.mark.usefixtures("usual_umask")
def test_the_default_store_and_master_key_are_owner_only(tmp_path: Path) -> None:
    store = Store.open()  # SHOPVEIL_HOME is a fresh folder in every test
    try:
        Keyring.open(store)
    finally:
        store.close()
    home = Path(os.environ["SHOPVEIL_HOME"])
    assert _mode(home / "shopveil.db") == 0o600
    assert _mode(home) == 0o700
    # The master key lives apart from the store, owner-only too.
    (key,) = (Path(os.environ["XDG_CONFIG_HOME"]) / "shopveil" / "keys").glob("*.key")
    assert _mode(key) == 0o600 and not (home / "master.key").exists()


@pytest.mark.usefixtures("usual_umask")
def test_an_older_world_readable_store_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    Store.open(f"sqlite:///{path}").close()
    path.chmod(0o644)
    Store.open(f"sqlite:///{path}").close()
    assert _mode(path) == 0o600
