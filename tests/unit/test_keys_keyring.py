"""The keyring: master key sources, wrong-key detection, HKDF derivation, data keys."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil.errors import (
    KeyringError,
    ParameterError,
    UnknownKeyVersion,
    WrongMasterKey,
)
from shopveil.keys import KeyLocationWarning, Keyring, format_key_text
from shopveil.keys._crypto import hkdf
from shopveil.store import Store


def test_hkdf_matches_rfc5869_test_case_3() -> None:
    # RFC 5869 A.3: SHA-256, zero-length salt and info.
    okm = hkdf(bytes([0x0B] * 22), b"", length=42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_derive_is_deterministic_across_reopen(store: Store) -> None:
    master = secrets.token_bytes(32)
    first = Keyring.open(store, master_key=master).derive("marketing", "customer_id", 1)
    again = Keyring.open(store, master_key=master).derive(
        purpose="marketing", context="customer_id", version=1
    )
    assert first == again
    assert isinstance(first, bytes) and len(first) == 32


def test_two_stores_with_one_master_key_derive_different_keys(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    a = Keyring.open(Store.open(f"sqlite:///{tmp_path / 'a.db'}"), master_key=master)
    b = Keyring.open(Store.open(f"sqlite:///{tmp_path / 'b.db'}"), master_key=master)
    assert a.derive("marketing", "customer_id") != b.derive("marketing", "customer_id")


names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    str.strip
)
triples = st.tuples(names, names, st.integers(1, 2**31))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=triples, b=triples)
def test_derived_keys_differ_across_purpose_context_version(
    store: Store, a: tuple[str, str, int], b: tuple[str, str, int]
) -> None:
    keyring = _shared_keyring(store)
    key_a, key_b = keyring.derive(*a), keyring.derive(*b)
    assert (key_a == key_b) == (a == b)


def test_field_boundaries_cannot_collide(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    assert keyring.derive("a:b", "c") != keyring.derive("a", "b:c")
    assert keyring.derive("a", "b1") != keyring.derive("a", "b", 1)
    assert keyring.system_key("marketing") != keyring.derive("marketing", "marketing")


@pytest.mark.parametrize(
    ("purpose", "context", "version"),
    [
        ("", "c", 1),
        ("  ", "c", 1),
        ("p", "", 1),
        ("p\n", "c", 1),
        ("p", "c\x00", 1),
        ("p" * 101, "c", 1),
        ("p", "c", 0),
        ("p", "c", True),
        ("p", "c", 1.0),
        (None, "c", 1),
    ],
)
def test_bad_names_and_versions_are_parameter_errors(
    store: Store, purpose: object, context: object, version: object
) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    with pytest.raises(ParameterError):
        keyring.derive(purpose, context, version)  # type: ignore[arg-type]


def test_wrong_master_key_is_refused(store: Store) -> None:
    Keyring.open(store, master_key=secrets.token_bytes(32))
    other = secrets.token_bytes(32)
    with pytest.raises(WrongMasterKey, match="SHOPVEIL_MASTER_KEY") as info:
        Keyring.open(store, master_key=other)
    assert other.hex() not in str(info.value)
    assert format_key_text(other) not in str(info.value)


def test_master_key_argument_must_be_32_bytes(store: Store) -> None:
    with pytest.raises(ParameterError, match="32 bytes"):
        Keyring.open(store, master_key=b"short")


def test_env_key_as_hex_or_base64url_is_the_same_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    master = secrets.token_bytes(32)
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", master.hex())
    from_hex = Keyring.open(store).derive("p", "c")
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", format_key_text(master))
    from_b64 = Keyring.open(store).derive("p", "c")
    assert from_hex == from_b64 == Keyring.open(store, master_key=master).derive("p", "c")


@pytest.mark.parametrize("value", ["not-a-key", "", "00" * 31, "zz" * 32, "A" * 44 + "!", "MTIz"])
def test_malformed_env_key_is_a_keyring_error_without_the_value(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", value)
    with pytest.raises(KeyringError, match="base64url") as info:
        Keyring.open(store)
    if value:
        assert value not in str(info.value)


def test_key_file_is_created_once_with_mode_0600(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    first = Keyring.open(store, key_file=path).derive("p", "c")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.open(store, key_file=path).derive("p", "c") == first
    # No temporary files are left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["master.key"]


def test_default_key_file_lives_apart_from_the_store(tmp_path: Path) -> None:
    home = Path(os.environ["SHOPVEIL_HOME"])
    store = Store.open()  # the default SQLite file in SHOPVEIL_HOME
    keyring = Keyring.open(store)
    store.close()
    # One backup of SHOPVEIL_HOME must not hold the key that reads it.
    assert not (home / "master.key").exists()
    path = keyring.key_file
    assert path is not None and home not in path.parents
    assert path.parent == tmp_path / "config" / "shopveil" / "keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_each_store_has_its_own_default_key_file(tmp_path: Path) -> None:
    a = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    b = Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    first = Keyring.open(a)
    rotated = Keyring.open(b).rotate_master()
    # Rotating b's master key leaves a's key file, and so store a, untouched.
    assert first.key_file != rotated.key_file
    assert Keyring.open(a).derive("p", "c") == first.derive("p", "c")
    a.close()
    b.close()


def test_shopveil_key_file_chooses_the_key_file(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vault-keys" / "shop.key"
    monkeypatch.setenv("SHOPVEIL_KEY_FILE", str(path))
    assert Keyring.open(store).key_file == path and path.exists()


def test_key_beside_the_store_still_works_warns_and_moves_on_rotation(store: Store) -> None:
    home = Path(os.environ["SHOPVEIL_HOME"])
    legacy = home / "master.key"
    master = secrets.token_bytes(32)
    home.mkdir(mode=0o700)
    legacy.write_text(format_key_text(master) + "\n")
    legacy.chmod(0o600)
    derived = Keyring.open(store, master_key=master).derive("p", "c")
    with pytest.warns(KeyLocationWarning, match="beside the store.*rotate-master"):
        keyring = Keyring.open(store)
    assert keyring.derive("p", "c") == derived and keyring.key_file == legacy
    rotated = keyring.rotate_master()
    assert not legacy.exists() and rotated.key_file is not None
    assert home not in rotated.key_file.parents
    assert Keyring.open(store).derive("p", "c") == derived  # no warning: it moved


def test_key_file_in_a_folder_others_may_write_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "shared" / "master.key"
    Keyring.open(store, key_file=path)
    path.parent.chmod(0o777)
    with pytest.raises(KeyringError, match="chmod go-w"):
        Keyring.open(store, key_file=path)


def test_creating_the_key_file_fsyncs_its_folder(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    Keyring.open(store, key_file=tmp_path / "k" / "master.key")
    # The key's bytes, then the folder that now names it.
    assert synced[0] is False and True in synced[1:]


def test_key_file_readable_by_others_is_refused(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    Keyring.open(store, key_file=path)
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.open(store, key_file=path)


def test_corrupt_key_file_is_a_keyring_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text("garbage\n")
    path.chmod(0o600)
    with pytest.raises(KeyringError, match="not a valid master key"):
        Keyring.open(store, key_file=path)


_RACE = """
import sys
from pathlib import Path
from shopveil.keys._master import resolve_master_key
print(resolve_master_key(None, Path(sys.argv[1]), lambda: "unused").material.hex())
"""


@pytest.mark.slow
def test_processes_racing_to_create_the_key_file_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race" / "master.key"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACE, str(path)], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    keys = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(keys) == 1
    assert bytes.fromhex(keys.pop().decode()) == resolve_file(path)


def resolve_file(path: Path) -> bytes:
    from shopveil.keys._master import resolve_master_key

    return resolve_master_key(None, path, lambda: "unused").material


def test_keyring_repr_holds_no_key_material(store: Store) -> None:
    master = secrets.token_bytes(32)
    keyring = Keyring.open(store, master_key=master)
    text = repr(keyring)
    assert master.hex() not in text and format_key_text(master) not in text


def test_data_keys_rotate_and_retire(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    v1, key1 = keyring.current_data_key("orders")
    assert v1 == 1
    assert keyring.rotate_data_key("orders") == 2
    v2, key2 = keyring.current_data_key("orders")
    assert v2 == 2 and key2 != key1
    assert keyring.data_key("orders", 1) == key1
    keyring.retire_data_key("orders", 1)
    with pytest.raises(UnknownKeyVersion, match="retired"):
        keyring.data_key("orders", 1)
    with pytest.raises(UnknownKeyVersion, match="does not exist"):
        keyring.data_key("orders", 3)
    with pytest.raises(KeyringError, match="current one"):
        keyring.retire_data_key("orders", 2)
    assert [(i.version, i.state) for i in keyring.data_key_versions("orders")] == [
        (1, "retired"),
        (2, "active"),
    ]


def test_root_key_cannot_be_rotated(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    with pytest.raises(ParameterError, match="root key"):
        keyring.rotate_data_key("shopveil.root")


def test_master_rotation_rewraps_and_keeps_derived_keys(store: Store) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    keyring = Keyring.open(store, master_key=old)
    derived = keyring.derive("marketing", "customer_id")
    _, data = keyring.current_data_key("orders")
    rotated = keyring.rotate_master(new)
    assert rotated.derive("marketing", "customer_id") == derived
    reopened = Keyring.open(store, master_key=new)
    assert reopened.derive("marketing", "customer_id") == derived
    assert reopened.data_key("orders", 1) == data
    with pytest.raises(WrongMasterKey):
        Keyring.open(store, master_key=old)
    # The stale keyring may not wrap new keys under the old master key.
    with pytest.raises(WrongMasterKey, match="rotated"):
        keyring.rotate_data_key("orders")


_shared: dict[str, Keyring] = {}


def _shared_keyring(store: Store) -> Keyring:
    url = str(store.engine.url)
    if url not in _shared:
        _shared.clear()
        _shared[url] = Keyring.open(store, master_key=secrets.token_bytes(32))
    return _shared[url]


def test_master_rotation_replaces_the_key_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    keyring = Keyring.open(store, key_file=path)
    before = path.read_text()
    derived = keyring.derive("p", "c")
    rotated = keyring.rotate_master()
    assert rotated.key_file == path and path.read_text() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if "master" in p.name) == ["master.key"]
    assert Keyring.open(store, key_file=path).derive("p", "c") == derived


def test_failed_master_rotation_keeps_the_old_key_file(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    stale = Keyring.open(store, key_file=path)
    before = path.read_text()
    stale.rotate_master(secrets.token_bytes(32))  # someone else rotated first
    with pytest.raises(WrongMasterKey, match="rotated"):
        stale.rotate_master()
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "master" in p.name) == ["master.key"]


def test_interrupted_master_rotation_is_reported(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    keyring = Keyring.open(store, key_file=path)
    (tmp_path / "master.key.new").write_text("left over\n")
    with pytest.raises(KeyringError, match="interrupted rotation"):
        keyring.rotate_master()
    assert Keyring.open(store, key_file=path).derive("p", "c") == keyring.derive("p", "c")


def test_master_from_env_needs_an_explicit_new_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", format_key_text(secrets.token_bytes(32)))
    with pytest.raises(ParameterError, match="not a key file"):
        Keyring.open(store).rotate_master()
