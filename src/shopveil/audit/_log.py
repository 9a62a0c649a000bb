"""The append-only, hash-chained audit log.

Each event stores ``hash = HMAC(k, seq, at, actor, action, details, prev_hash)`` where
``k`` comes from the keyring, so someone who can edit the database but does not hold
the master key cannot rewrite the chain. A "head" record in ``shopveil_meta`` (seq and
hash of the last event, itself MACed) makes deleting events from the end detectable.
Signed checkpoints written outside the database after each commit (see
:mod:`shopveil.audit._checkpoint`) catch what the database alone cannot: every event
deleted with the head, or the whole log rolled back to an older copy.

Callers must not put raw personal data in ``details``: it is stored in clear and kept
forever. Put counts, column names, policy names and pseudonymous references there.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shopveil._core import Clock, SystemClock
from shopveil.audit._checkpoint import Checkpoint, CheckpointFile, default_checkpoint_dir
from shopveil.audit._event import (
    GENESIS_HASH,
    AuditEvent,
    canonical_json,
    check_action,
    check_actor,
    iso_utc,
)
from shopveil.errors import IntegrityError, ParameterError
from shopveil.keys import Keyring, encode_fields, hmac_hex
from shopveil.store import Store, after_commit, audit_events, insert_ignore, meta

__all__ = ["AuditLog"]

_HEAD_KEY = "audit_head"
_LATEST = "shopveil.audit.latest"  # per connection: the newest seq each log appended


class AuditLog:
    """An append-only log of who did what, verifiable with :meth:`verify`.

    Parameters
    ----------
    store
        Where the events live (``shopveil_audit_events``).
    keyring
        Supplies the chain's HMAC key.
    clock
        Stamps each event; inject a :class:`~shopveil._core.FixedClock` in tests.
    checkpoints
        The folder for the signed checkpoints, outside the database; default
        ``SHOPVEIL_AUDIT_CHECKPOINTS`` or ``SHOPVEIL_HOME/audit-checkpoints``.
    """

    __slots__ = ("_checkpoints", "_key", "clock", "store")

    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        clock: Clock | None = None,
        *,
        checkpoints: str | Path | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._key = keyring.system_key("audit.chain")
        folder = Path(checkpoints) if checkpoints is not None else default_checkpoint_dir()
        self._checkpoints = CheckpointFile(folder, keyring.system_key("audit.checkpoint"))

    def __repr__(self) -> str:
        return f"AuditLog(store={self.store.engine.url!r}, clock={self.clock!r})"

    def append(
        self, actor: str, action: str, details: Mapping[str, Any] | None = None
    ) -> AuditEvent:
        """Add one event at the end of the chain and return it.

        Safe under concurrency: the head is read and written in one transaction that
        holds the write lock (SQLite) or the head row's lock (PostgreSQL).
        """
        self.check(actor, action, details)
        with self.store.transaction() as conn:
            return self.append_in(conn, actor, action, details)

    def check(self, actor: str, action: str, details: Mapping[str, Any] | None = None) -> None:
        """Validate an event without writing it (before work that must end in one)."""
        check_actor(actor)
        check_action(action)
        canonical_json(details)

    @property
    def checkpoint_file(self) -> Path:
        """The append-only file this log's signed checkpoints go to."""
        return self._checkpoints.path

    def append_in(
        self,
        conn: sa.Connection,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append inside the caller's transaction, so the event commits with the change.

        In a :meth:`Store.transaction` the event is checkpointed once it commits; in a
        transaction of your own, call :meth:`checkpoint` after it commits.
        """
        details_json = canonical_json(details)
        at = iso_utc(self.clock.now())
        check_actor(actor)
        check_action(action)
        head_seq, head_hash = self._lock_head(conn)
        seq = head_seq + 1
        digest = self._mac(seq, at, actor, action, details_json, head_hash)
        conn.execute(
            sa.insert(audit_events).values(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                details=details_json,
                prev_hash=head_hash,
                hash=digest,
            )
        )
        conn.execute(
            sa.update(meta).where(meta.c.key == _HEAD_KEY).values(value=self._head(seq, digest))
        )
        self._checkpoint_after(conn, seq, digest, at)
        return AuditEvent(
            seq=seq,
            at=datetime.fromisoformat(at),
            actor=actor,
            action=action,
            details=json.loads(details_json),
            prev_hash=head_hash,
            hash=digest,
        )

    def append_many_in(
        self, conn: sa.Connection, events: Sequence[tuple[str, str, Mapping[str, Any] | None]]
    ) -> int:
        """Append ``(actor, action, details)`` events in order inside the caller's
        transaction: the head is locked, moved and checkpointed once for all of them.
        Return the last one's seq (the head's when ``events`` is empty)."""
        rows = []
        for actor, action, details in events:
            check_actor(actor)
            check_action(action)
            rows.append((actor, action, canonical_json(details)))
        seq, digest = self._lock_head(conn)
        if not rows:
            return seq
        at = iso_utc(self.clock.now())
        values = []
        for actor, action, details_json in rows:
            prev, seq = digest, seq + 1
            digest = self._mac(seq, at, actor, action, details_json, prev)
            values.append(
                {"seq": seq, "at": at, "actor": actor, "action": action,
                 "details": details_json, "prev_hash": prev, "hash": digest}
            )  # fmt: skip
        conn.execute(sa.insert(audit_events), values)
        conn.execute(
            sa.update(meta).where(meta.c.key == _HEAD_KEY).values(value=self._head(seq, digest))
        )
        self._checkpoint_after(conn, seq, digest, at)
        return seq

    def checkpoint(self) -> int:
        """Sign the log's committed head into the checkpoint file; return its seq (0: empty).

        Appends through :meth:`append` and :meth:`Store.transaction` do this already.
        """
        with self.store.engine.connect() as conn:
            text = conn.execute(sa.select(meta.c.value).where(meta.c.key == _HEAD_KEY)).scalar()
        if text is None:
            return 0
        seq, digest = self._parse_head(text)
        if seq:
            self._checkpoints.write(seq, digest, iso_utc(self.clock.now()))
        return seq

    def checkpoints(self) -> list[Checkpoint]:
        """Every signed checkpoint of this log, oldest first; each signature is checked.

        Raises
        ------
        IntegrityError
            The checkpoint file was altered.
        """
        return self._checkpoints.read()

    def events(
        self,
        *,
        action: str | None = None,
        actions: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Events in chain order: all, those of one ``action`` or of any of ``actions``.

        ``limit`` keeps the newest ``limit`` of them (still in chain order).
        """
        query = sa.select(audit_events)
        if action is not None:
            query = query.where(audit_events.c.action == check_action(action))
        if actions is not None:
            query = query.where(audit_events.c.action.in_([check_action(a) for a in actions]))
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ParameterError(f"limit must be an integer >= 0, got {limit!r}")
            query = query.order_by(audit_events.c.seq.desc()).limit(limit)
            with self.store.engine.connect() as conn:
                return [_to_event(row) for row in reversed(conn.execute(query).all())]
        with self.store.engine.connect() as conn:
            return [_to_event(row) for row in conn.execute(query.order_by(audit_events.c.seq))]

    def verify(self) -> int:
        """Check the whole chain; return the number of events.

        Raises
        ------
        IntegrityError
            Naming the first event that was changed, deleted, reordered or inserted, or
            the signed checkpoint the log no longer reaches or no longer agrees with.
        """
        # Read the checkpoints before the rows: each is written after its event commits,
        # so every one read here is within the snapshot read below.
        marks: dict[int, list[str]] = {}
        for mark in self._checkpoints.read():
            marks.setdefault(mark.seq, []).append(mark.hash)
        expected_seq, prev = 1, GENESIS_HASH
        with self.store.engine.connect() as plain:
            # One snapshot for the head and the rows, or a concurrent append between the
            # two reads would look like tampering. (SQLite: every transaction is IMMEDIATE.)
            conn = plain
            if plain.dialect.name == "postgresql":
                conn = plain.execution_options(isolation_level="REPEATABLE READ")
            head_text = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == _HEAD_KEY)
            ).scalar()
            query = sa.select(audit_events).order_by(audit_events.c.seq)
            # yield_per streams a long log; `with` closes the server cursor on an early raise.
            with conn.execution_options(yield_per=1000).execute(query) as rows:
                for row in rows:
                    if row.seq != expected_seq:
                        raise IntegrityError(
                            f"audit event seq {expected_seq} is missing (the next stored event is "
                            f"seq {row.seq}): events were deleted or renumbered"
                        )
                    if not hmac.compare_digest(row.prev_hash, prev):
                        raise IntegrityError(
                            f"audit event seq {row.seq} does not follow seq {row.seq - 1}: "
                            "events were deleted, inserted or reordered"
                        )
                    digest = self._mac(row.seq, row.at, row.actor, row.action, row.details, prev)
                    if not hmac.compare_digest(row.hash, digest):
                        raise IntegrityError(f"audit event seq {row.seq} was altered")
                    if not all(hmac.compare_digest(row.hash, h) for h in marks.get(row.seq, ())):
                        raise IntegrityError(
                            f"audit event seq {row.seq} is not the one its signed checkpoint "
                            f"in {self._checkpoints.path} records: the log was rolled back and "
                            "rewritten"
                        )
                    expected_seq, prev = expected_seq + 1, row.hash
        count = expected_seq - 1
        if head_text is None:
            if count:
                raise IntegrityError("the audit log head record was deleted")
        else:
            head_seq, head_hash = self._parse_head(head_text)
            if head_seq != count or not hmac.compare_digest(head_hash, prev):
                raise IntegrityError(
                    f"audit event seq {count + 1} is missing: the log ends at seq {count} but "
                    f"{head_seq} events were written; events were deleted from the end"
                )
        newest = max(marks, default=0)
        if newest > count:
            raise IntegrityError(
                f"the audit log ends at seq {count} but a signed checkpoint in "
                f"{self._checkpoints.path} records seq {newest}: events were deleted or the "
                "log was rolled back to an older copy"
            )
        return count

    def _checkpoint_after(self, conn: sa.Connection, seq: int, digest: str, at: str) -> None:
        # Only after the commit: a checkpoint of a rolled-back event would fail verify.
        # One per transaction, of its last event: a checkpoint covers the chain before it.
        latest = conn.info.setdefault(_LATEST, {})
        latest[id(self)] = seq

        def checkpoint() -> None:
            if latest.get(id(self)) == seq:
                self._checkpoints.write(seq, digest, at)

        after_commit(conn, checkpoint)

    def _lock_head(self, conn: sa.Connection) -> tuple[int, str]:
        query = sa.select(meta.c.value).where(meta.c.key == _HEAD_KEY).with_for_update()
        text = conn.execute(query).scalar()
        if text is None:
            insert_ignore(conn, meta, [{"key": _HEAD_KEY, "value": self._head(0, GENESIS_HASH)}])
            text = conn.execute(query).scalar_one()
        return self._parse_head(text)

    def _head(self, seq: int, digest: str) -> str:
        mac = hmac_hex(self._key, encode_fields("shopveil/audit-head/v1", seq, digest))
        return json.dumps({"seq": seq, "hash": digest, "mac": mac}, sort_keys=True)

    def _parse_head(self, text: str) -> tuple[int, str]:
        try:
            head = json.loads(text)
            seq, digest, mac = int(head["seq"]), str(head["hash"]), str(head["mac"])
        except (ValueError, KeyError, TypeError):
            raise IntegrityError("the audit log head record is malformed") from None
        expected = hmac_hex(self._key, encode_fields("shopveil/audit-head/v1", seq, digest))
        if not hmac.compare_digest(mac, expected):
            raise IntegrityError("the audit log head record was altered")
        return seq, digest

    def _mac(self, seq: int, at: str, actor: str, action: str, details: str, prev_hash: str) -> str:
        message = encode_fields("shopveil/audit/v1", seq, at, actor, action, details, prev_hash)
        return hmac_hex(self._key, message)


def _to_event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=int(row.seq),
        at=datetime.fromisoformat(row.at),
        actor=row.actor,
        action=row.action,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
