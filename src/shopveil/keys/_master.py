"""Where the master key comes from: an argument, ``SHOPVEIL_MASTER_KEY``, or a key file.

The default key file lives apart from the store it protects: ``SHOPVEIL_KEY_FILE`` if
set, else ``$XDG_CONFIG_HOME/shopveil/keys/<store id>.key`` (``~/.config/...`` when
``XDG_CONFIG_HOME`` is unset), one file per store so that rotating one store's key
never locks another store out. A key beside the database would travel in every backup
of it, and with it every value erasure was meant to make unreadable. A key file left at
the old default, ``SHOPVEIL_HOME/master.key``, still works, with a
:class:`KeyLocationWarning`; ``shopveil keys rotate-master`` moves it out.

The key file is created on first use from :func:`secrets.token_bytes`, with mode 0600 in
a 0700 folder, atomically: the key is written to a private temporary file and
hard-linked into place (then the folder is fsynced), so two processes racing end with
one key and nobody ever reads a half-written file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shopveil.errors import KeyringError, ParameterError
from shopveil.keys._crypto import KEY_BYTES, new_key
from shopveil.store import default_home

__all__ = [
    "ENV_VAR",
    "KEY_FILE_VAR",
    "KeyLocationWarning",
    "MasterKey",
    "default_key_file",
    "format_key_text",
    "key_directory",
    "legacy_key_file",
    "parse_key_text",
    "replace_key_file",
    "resolve_master_key",
    "write_key_file",
]

ENV_VAR = "SHOPVEIL_MASTER_KEY"
KEY_FILE_VAR = "SHOPVEIL_KEY_FILE"
_FORMAT_HELP = f"{KEY_BYTES} bytes as base64url (43 characters) or hex (64 characters)"


class KeyLocationWarning(UserWarning):
    """The master key sits beside the store it protects (the old default location)."""


@dataclass(frozen=True)
class MasterKey:
    """The master key and a description of where it came from (for error messages).

    ``beside_store`` marks a key read from the old default, ``SHOPVEIL_HOME/master.key``.
    """

    material: bytes = field(repr=False)
    source: str
    key_file: Path | None = None
    beside_store: bool = False

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ParameterError(
                f"master_key must be exactly {KEY_BYTES} bytes, got {len(self.material)}; "
                "make one with secrets.token_bytes(32)"
            )


def key_directory() -> Path:
    """``$XDG_CONFIG_HOME/shopveil/keys``, or ``~/.config/shopveil/keys``."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative XDG_CONFIG_HOME is to be ignored.
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "shopveil" / "keys"


def default_key_file(store_id: str) -> Path:
    """``SHOPVEIL_KEY_FILE`` if set, else ``<key directory>/<store_id>.key``."""
    chosen = os.environ.get(KEY_FILE_VAR)
    if chosen:
        return Path(chosen)
    return key_directory() / f"{store_id}.key"


def legacy_key_file() -> Path:
    """Where older versions kept the key: ``SHOPVEIL_HOME/master.key``, beside the store."""
    return default_home() / "master.key"


def format_key_text(key: bytes) -> str:
    """Base64url without padding: the text form of a key, for a file or an env variable."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def parse_key_text(text: str, *, where: str, what: str = "master key") -> bytes:
    """Decode a 32-byte key written as base64url or hex. Never echoes ``text`` in an error.

    Strict: stray characters, padding in the wrong place or another length are refused.
    """
    value = text.strip()
    key: bytes | None = None
    if len(value) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            key = bytes.fromhex(value)
    if key is None:
        try:
            # validate=True: refuse stray characters instead of silently skipping them.
            padded = value + "=" * (-len(value) % 4)
            key = base64.b64decode(padded, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) != KEY_BYTES:
        raise KeyringError(
            f"{where} is not a valid {what}; expected {_FORMAT_HELP} "
            '(make one with: python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    return key


def resolve_master_key(
    master_key: bytes | None, key_file: str | Path | None, store_id: Callable[[], str]
) -> MasterKey:
    """The argument, else ``SHOPVEIL_MASTER_KEY``, else the key file (created if missing).

    ``store_id`` names the store's default key file; it is called only when needed.
    """
    if master_key is not None:
        if not isinstance(master_key, bytes | bytearray):
            raise ParameterError(
                f"master_key must be bytes, got {type(master_key).__name__}; "
                "pass the raw 32 bytes, or leave it out to use SHOPVEIL_MASTER_KEY"
            )
        return MasterKey(bytes(master_key), "the master_key argument")
    env = os.environ.get(ENV_VAR)
    if env is not None:
        return MasterKey(parse_key_text(env, where=ENV_VAR), ENV_VAR)
    if key_file is not None:
        path = Path(key_file)
        return MasterKey(_read_or_create(path), f"the key file {path}", path)
    path = default_key_file(store_id())
    legacy = legacy_key_file()
    if not os.environ.get(KEY_FILE_VAR) and not path.exists() and legacy.exists():
        warnings.warn(
            KeyLocationWarning(
                f"the master key {legacy} sits beside the store, so one backup of that "
                "folder holds both the data and the key that reads it (erased values "
                f"included); run: shopveil keys rotate-master (it moves the key to {path})"
            ),
            stacklevel=3,
        )
        return MasterKey(_read_key_file(legacy), f"the key file {legacy}", legacy, True)
    return MasterKey(_read_or_create(path), f"the key file {path}", path)


def write_key_file(path: Path, key: bytes) -> bool:
    """Write ``key`` to ``path`` (mode 0600) unless a file is there; True if ours won."""
    _private_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{new_key().hex()[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(format_key_text(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails if the name exists: the atomic "create only if absent".
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        # The new name is durable only once the folder holding it is on disk.
        _fsync_dir(path.parent)


def replace_key_file(
    path: Path, key: bytes, commit: Callable[[], None], *, old: Path | None = None
) -> None:
    """Swap the key in ``path`` for ``key`` around ``commit`` (which re-wraps the store).

    The new key is on disk (``<path>.new``, 0600) before ``commit`` runs, so a crash
    never leaves a store whose master key exists nowhere; after it, a rename puts it in
    place. If ``commit`` fails the new file is removed and the old key stays. With
    ``old``, the key moves: the file there is deleted once the new one is in place.
    """
    staged = path.with_name(path.name + ".new")
    if not write_key_file(staged, key):
        raise KeyringError(
            f"{staged} already exists, left by an interrupted rotation; if the store "
            f"accepts the key in {old or path}, delete {staged}, otherwise move it to {path}"
        )
    try:
        commit()
    except BaseException:
        staged.unlink()
        raise
    os.replace(staged, path)
    _fsync_dir(path.parent)
    if old is not None and old != path:
        old.unlink()
        _fsync_dir(old.parent)


def _private_dirs(directory: Path) -> None:
    # Every folder we create on the way is 0700, not just the last one (mkdir's parents
    # get the umask's default, usually 0755).
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_or_create(path: Path) -> bytes:
    if not path.exists():
        write_key_file(path, new_key())
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyringError(
                f"the key file {path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        folder = path.parent.stat().st_mode
        if os.name == "posix" and folder & (stat.S_IWGRP | stat.S_IWOTH):
            # Whoever may write the folder may swap the key for one they know.
            raise KeyringError(
                f"the folder of the key file {path} is writable by other users "
                f"(mode {stat.S_IMODE(folder):o}); run: chmod go-w {path.parent}"
            )
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise KeyringError(f"cannot read the key file {path}: {reason}") from None
    return parse_key_text(text, where=f"the key file {path}")
