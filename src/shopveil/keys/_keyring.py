"""The keyring: one master key, a root key wrapped under it, and keys derived with HKDF.

Key hierarchy::

    master key (argument, SHOPVEIL_MASTER_KEY or a key file kept apart from the database)
    ├── key check value  HMAC under HKDF(master, "key-check"): detects a wrong master key
    └── KEK              HKDF(master, "kek"): wraps every data key (AES-GCM)
        ├── root key     random, wrapped; derive() and system_key() come from it
        └── data keys    random, wrapped, versioned per purpose (the vault's, ...)

Because derived keys come from the wrapped root key and not from the master key itself,
rotating the master key re-wraps a handful of rows and changes no token or audit hash.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from shopveil.errors import ParameterError, WrongMasterKey
from shopveil.keys import _datakeys
from shopveil.keys._crypto import encode_fields, hkdf, hmac_hex, new_key
from shopveil.keys._datakeys import KEY_CHECK, DataKeyInfo
from shopveil.keys._master import (
    MasterKey,
    default_key_file,
    replace_key_file,
    resolve_master_key,
)
from shopveil.keys._shred import make_durable
from shopveil.store import Store, data_keys, meta

__all__ = ["ROOT_PURPOSE", "Keyring", "check_name"]

ROOT_PURPOSE = "shopveil.root"
STORE_ID = "store_id"
_MAX_NAME = 100
# Printable, no control characters: names end up in error messages and audit events.
_NAME_RE = re.compile(r"[^\x00-\x1f\x7f]+")


def check_name(name: object, what: str) -> str:
    """Validate a purpose, context or component name; return it."""
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"{what} must be a non-empty string, got {name!r}")
    if len(name) > _MAX_NAME or not _NAME_RE.fullmatch(name):
        raise ParameterError(
            f"{what} must be at most {_MAX_NAME} printable characters, got {name[:40]!r}"
        )
    return name


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ParameterError(f"version must be an integer >= 1, got {version!r}")
    return version


def _kek(master: bytes) -> bytes:
    return hkdf(master, encode_fields("shopveil/kek", 1))


def _key_check(master: bytes) -> str:
    check_key = hkdf(master, encode_fields("shopveil/key-check", 1))
    return "v1:" + hmac_hex(check_key, b"shopveil key check value")


def _store_id(store: Store) -> str:
    # A random name for the store's default key file: it survives moving the database
    # or restoring a backup, and says nothing about the data.
    return store.get_meta(STORE_ID) or store.set_meta_once(STORE_ID, secrets.token_hex(8))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Keyring:
    """Keys for one store, all derived from or wrapped under one master key.

    Open it with :meth:`open`. The master key is never written to the store; only a key
    check value (an HMAC under a key derived from it) is, so a wrong key is refused.
    """

    __slots__ = ("_check", "_kek", "_lock", "_master", "_root", "_subkeys", "store")

    def __init__(self, store: Store, master: MasterKey, root: bytes) -> None:
        self.store = store
        self._master = master
        self._kek = _kek(master.material)
        self._check = _key_check(master.material)
        self._root = root
        self._subkeys: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Keyring(store={self.store.engine.url!r}, master_key=<from {self.source}>)"

    @property
    def source(self) -> str:
        """Where the master key came from, e.g. ``SHOPVEIL_MASTER_KEY``."""
        return self._master.source

    @classmethod
    def open(
        cls,
        store: Store,
        master_key: bytes | None = None,
        key_file: str | Path | None = None,
    ) -> Keyring:
        """Load the master key and check it against the store.

        Parameters
        ----------
        store
            The store whose keys these are.
        master_key
            32 raw bytes. If omitted, ``SHOPVEIL_MASTER_KEY`` (base64url or hex), else
            ``key_file``, else ``SHOPVEIL_KEY_FILE``, else this store's file in
            ``$XDG_CONFIG_HOME/shopveil/keys/`` (``~/.config/shopveil/keys/``), created on
            first use (0600), never beside the database.

        Raises
        ------
        WrongMasterKey
            The store was created with another master key.
        KeyringError
            ``SHOPVEIL_MASTER_KEY`` or the key file is malformed or too widely readable.
        """
        master = resolve_master_key(master_key, key_file, lambda: _store_id(store))
        check = _key_check(master.material)
        stored = store.set_meta_once(KEY_CHECK, check)
        if not hmac.compare_digest(stored.encode(), check.encode()):
            raise WrongMasterKey(
                f"the master key from {master.source} is not the one this store was created "
                "with; set SHOPVEIL_MASTER_KEY to the key this store was created with"
            )
        _, root = _datakeys.ensure_current(
            store, _kek(master.material), check, ROOT_PURPOSE, _now()
        )
        return cls(store, master, root)

    def derive(self, purpose: str, context: str, version: int = 1) -> bytes:
        """A 32-byte key bound to ``purpose``, ``context`` and ``version`` (HKDF-SHA256).

        Keys for different purposes, contexts or versions are independent: tokens made
        for ``marketing`` cannot be joined with tokens made for ``fulfilment``.
        """
        info = encode_fields(
            "shopveil/derive/v1",
            check_name(purpose, "purpose"),
            check_name(context, "context"),
            _check_version(version),
        )
        return self._cached(info)

    def system_key(self, component: str) -> bytes:
        """A key for one of ShopVeil's own components (audit chain, vault look-ups).

        It lives in a namespace of its own, so no ``derive`` call can produce it.
        """
        return self._cached(encode_fields("shopveil/system/v1", check_name(component, "component")))

    def data_key(self, purpose: str, version: int, *, conn: sa.Connection | None = None) -> bytes:
        """The data key of ``purpose`` at ``version``; :class:`UnknownKeyVersion` if none.

        Pass ``conn`` to read inside the caller's transaction (on SQLite a second
        connection would wait for the first one's write lock).
        """
        check_name(purpose, "purpose")
        _check_version(version)
        if conn is not None:
            return _datakeys.load(conn, self._kek, purpose, version)
        with self.store.engine.connect() as own:
            return _datakeys.load(own, self._kek, purpose, version)

    def current_data_key(self, purpose: str) -> tuple[int, bytes]:
        """The newest active version of ``purpose`` and its key; version 1 is made on first use."""
        return _datakeys.ensure_current(
            self.store, self._kek, self._check, check_name(purpose, "purpose"), _now()
        )

    def rotate_data_key(self, purpose: str) -> int:
        """Add version n+1 of ``purpose``; older versions stay readable until retired."""
        self._refuse_root(purpose)
        version, _ = _datakeys.add_version(self.store, self._kek, self._check, purpose, _now())
        return version

    def retire_data_key(self, purpose: str, version: int) -> None:
        """Delete the material of an old version; anything still under it is unreadable."""
        self._refuse_root(purpose)
        _datakeys.retire(self.store, purpose, _check_version(version))
        make_durable(self.store, "the key retirement", [data_keys])

    def data_key_versions(self, purpose: str) -> list[DataKeyInfo]:
        """Every version of ``purpose``, oldest first, without key material."""
        with self.store.engine.connect() as conn:
            return _datakeys.list_versions(conn, check_name(purpose, "purpose"))

    @property
    def key_file(self) -> Path | None:
        """The key file the master key was read from, if it came from one."""
        return self._master.key_file

    def rotate_master(self, new_master_key: bytes | None = None) -> Keyring:
        """Re-wrap every data key under a new master key; return a keyring that uses it.

        Nothing is re-encrypted and no derived key changes; the store gets a new key
        check value. With no argument a fresh key is made, and the master key must come
        from a key file, which is replaced safely (a key beside the store moves to this
        store's default key file). Other processes must reopen their keyring (they get
        :class:`WrongMasterKey`). Copies of the store made before, backups included, stay
        readable with the old master key only: destroy every copy of it.
        """
        if new_master_key is not None:
            new = MasterKey(bytes(new_master_key), "the new master key")
            if hmac.compare_digest(new.material, self._master.material):
                raise ParameterError(
                    "new_master_key is the current master key; rotation needs a new one "
                    "(make one with secrets.token_bytes(32))"
                )
            self._rewrap(new)
            make_durable(self.store, "the master key rotation", [data_keys])
            return Keyring(self.store, new, self._root)
        path = self.key_file
        if path is None:
            raise ParameterError(
                f"the master key comes from {self.source}, not a key file, so there is no "
                "file to put a new one in; pass new_master_key and store it yourself"
            )
        old = path
        if self._master.beside_store:
            path = default_key_file(_store_id(self.store))
        new = MasterKey(new_key(), f"the key file {path}", path)
        replace_key_file(path, new.material, lambda: self._rewrap(new), old=old)
        # Only after the new key file is in place: a failed checkpoint must not undo it.
        make_durable(self.store, "the master key rotation", [data_keys])
        return Keyring(self.store, new, self._root)

    def _rewrap(self, new: MasterKey) -> None:
        with self.store.transaction() as conn:
            _datakeys.guard_master(conn, self._check, exclusive=True)
            _datakeys.rewrap_all(conn, self._kek, _kek(new.material))
            conn.execute(
                sa.update(meta)
                .where(meta.c.key == KEY_CHECK)
                .values(value=_key_check(new.material))
            )

    def _refuse_root(self, purpose: str) -> None:
        if check_name(purpose, "purpose") == ROOT_PURPOSE:
            raise ParameterError(
                f"{ROOT_PURPOSE!r} is the root key every derived key depends on; it cannot "
                "be rotated or retired (rotate the master key instead)"
            )

    def _cached(self, info: bytes) -> bytes:
        key = self._subkeys.get(info)
        if key is None:
            key = hkdf(self._root, info)
            with self._lock:
                self._subkeys[info] = key
        return key
