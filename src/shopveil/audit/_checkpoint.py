"""Signed checkpoints: the audit chain anchored outside the database.

The chain's HMACs stop anyone without the master key from rewriting events, but not
someone who can write the database from putting back an older copy of it, or from
deleting every event together with the head record. So after each commit the log
appends ``(seq, hash)`` of its newest event, signed with Ed25519, to a file outside the
database. :meth:`AuditLog.verify` then refuses a log shorter than the newest checkpoint,
or one whose event at a checkpointed seq has another hash.

The signing key is derived from the keyring's root key, which is stored wrapped under
the master key: the database alone cannot sign a checkpoint. The file is named after
the public key, so stores sharing one folder keep separate files. It is opened for
appending only and is owner-only (0600); give the database's users no write access to
the folder (on Linux, ``chattr +a`` makes the file append-only even for its owner).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shopveil.errors import IntegrityError, StoreError
from shopveil.keys import encode_fields
from shopveil.store import default_home

__all__ = ["CHECKPOINTS_ENV", "Checkpoint", "CheckpointFile", "default_checkpoint_dir"]

CHECKPOINTS_ENV = "SHOPVEIL_AUDIT_CHECKPOINTS"
_CONTEXT = "shopveil/audit-checkpoint/v1"


def default_checkpoint_dir() -> Path:
    """``SHOPVEIL_AUDIT_CHECKPOINTS``, else ``audit-checkpoints`` under ``SHOPVEIL_HOME``."""
    configured = os.environ.get(CHECKPOINTS_ENV)
    return Path(configured) if configured else default_home() / "audit-checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    """The log's newest event at one moment: its ``seq`` and ``hash``, signed at ``at``."""

    seq: int
    hash: str
    at: str


class CheckpointFile:
    """The append-only file of one audit log's signed checkpoints.

    Parameters
    ----------
    folder
        Where the file lives; created owner-only (0700) on the first write.
    seed
        32 bytes from the keyring: the Ed25519 signing key.
    """

    __slots__ = ("_private", "_public", "key_id", "path")

    def __init__(self, folder: Path, seed: bytes) -> None:
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._private.public_key()
        raw = self._public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:32]
        self.path = folder / f"{self.key_id}.jsonl"

    def write(self, seq: int, digest: str, at: str) -> None:
        """Append one signed checkpoint; durable (fsync) before it returns."""
        signature = self._private.sign(self._message(seq, digest, at))
        record = {
            "at": at,
            "hash": digest,
            "key": self.key_id,
            "seq": seq,
            "sig": base64.urlsafe_b64encode(signature).decode("ascii"),
        }
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if _ends_torn(fd):
                    line = b"\n" + line  # a crash cut the last line short; start a new one
                # One write per line: O_APPEND keeps concurrent writers' lines whole.
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"the audit event seq {seq} was committed but its checkpoint could not be "
                f"written to {self.path}: {exc.strerror}; make the folder writable (or set "
                f"{CHECKPOINTS_ENV}) and run `shopveil audit verify`"
            ) from exc

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in the file, each signature checked; none if there is no file.

        Raises
        ------
        IntegrityError
            A line is malformed or its signature does not verify.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(
                f"cannot read the audit checkpoints in {self.path}: {exc.strerror}; make the "
                "file readable by this user"
            ) from exc
        out = []
        for number, line in enumerate(data.split(b"\n"), start=1):
            try:
                record = json.loads(line)
            except ValueError:
                # Empty, or a line a crash cut short: a prefix of a record is never JSON.
                # It can only lose a checkpoint, never forge one.
                continue
            out.append(self._parse(record, number))
        return out

    def _parse(self, record: Any, number: int) -> Checkpoint:
        where = f"line {number} of the audit checkpoint file {self.path}"
        try:
            seq, digest, at = int(record["seq"]), str(record["hash"]), str(record["at"])
            key_id = str(record["key"])
            signature = base64.urlsafe_b64decode(str(record["sig"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise IntegrityError(f"{where} is malformed: the file was altered") from None
        if not hmac.compare_digest(key_id, self.key_id):
            raise IntegrityError(f"{where} names another signing key: the file was altered")
        try:
            self._public.verify(signature, self._message(seq, digest, at))
        except InvalidSignature:
            raise IntegrityError(
                f"{where} has a bad signature: the file was altered or the key is not this store's"
            ) from None
        return Checkpoint(seq, digest, at)

    def _message(self, seq: int, digest: str, at: str) -> bytes:
        return encode_fields(_CONTEXT, self.key_id, seq, digest, at)


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
