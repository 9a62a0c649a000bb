"""Signed checkpoints outside the database: truncation and rollback of the log are caught."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil.audit import AuditLog
from shopveil.errors import IntegrityError, ParameterError
from shopveil.keys import Keyring
from shopveil.store import Store


@pytest.fixture
def keyring_of(store: Store) -> Keyring:
    return Keyring.open(store, master_key=secrets.token_bytes(32))


@pytest.fixture
def log(store: Store, keyring_of: Keyring) -> AuditLog:
    return AuditLog(store, keyring_of)


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append("steward", "anonymize.run", {"rows": i})


def _snapshot(store: Store) -> tuple[list[dict[str, Any]], str]:
    """What someone with database access saves: every event row and the head record."""
    with store.engine.connect() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM shopveil_audit_events"))
        ]
        head = conn.execute(
            sa.text("SELECT value FROM shopveil_meta WHERE key = 'audit_head'")
        ).scalar_one()
    return rows, head


def _restore(store: Store, rows: list[dict[str, Any]], head: str) -> None:
    """Put a saved copy back: the log as it was, head included."""
    with store.transaction() as conn:
        conn.execute(sa.text("DELETE FROM shopveil_audit_events"))
        for row in rows:
            columns = ", ".join(row)
            values = ", ".join(f":{c}" for c in row)
            conn.execute(
                sa.text(f"INSERT INTO shopveil_audit_events ({columns}) VALUES ({values})"), row
            )
        conn.execute(
            sa.text("UPDATE shopveil_meta SET value = :v WHERE key = 'audit_head'"), {"v": head}
        )


def test_deleting_every_event_and_the_head_is_caught(log: AuditLog) -> None:
    _fill(log, 4)
    with log.store.transaction() as conn:
        conn.execute(sa.text("DELETE FROM shopveil_audit_events"))
        conn.execute(sa.text("DELETE FROM shopveil_meta WHERE key = 'audit_head'"))
    with pytest.raises(IntegrityError, match=r"ends at seq 0 but a signed checkpoint .* seq 4"):
        log.verify()


def test_rolling_back_to_a_saved_copy_is_caught(log: AuditLog) -> None:
    _fill(log, 3)
    rows, head = _snapshot(log.store)
    _fill(log, 2)  # e.g. two detokenizations someone wants forgotten
    _restore(log.store, rows, head)
    with pytest.raises(IntegrityError, match=r"ends at seq 3 but a signed checkpoint .* seq 5"):
        log.verify()


def test_a_rolled_back_and_regrown_log_is_caught(
    store: Store, keyring_of: Keyring, log: AuditLog, tmp_path: Path
) -> None:
    _fill(log, 3)
    rows, head = _snapshot(store)
    _fill(log, 2)
    _restore(store, rows, head)
    # Re-grown to the same length by a process whose checkpoints went elsewhere.
    elsewhere = AuditLog(store, keyring_of, checkpoints=tmp_path / "elsewhere")
    _fill(elsewhere, 2)
    assert elsewhere.verify() == 5  # the database alone still looks consistent
    with pytest.raises(IntegrityError, match="seq 4 is not the one its signed checkpoint"):
        log.verify()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kept=st.integers(0, 6), later=st.integers(1, 4), regrow=st.booleans())
def test_any_rollback_is_caught(tmp_path: Path, kept: int, later: int, regrow: bool) -> None:
    name = secrets.token_hex(4)
    store = Store.open(f"sqlite:///{tmp_path / f'{name}.db'}")
    try:
        keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
        log = AuditLog(store, keyring, checkpoints=tmp_path / name)
        _fill(log, kept)
        if kept:
            rows, head = _snapshot(store)
        _fill(log, later)
        if kept:
            _restore(store, rows, head)
        else:
            with store.transaction() as conn:
                conn.execute(sa.text("DELETE FROM shopveil_audit_events"))
                conn.execute(sa.text("DELETE FROM shopveil_meta WHERE key = 'audit_head'"))
        if regrow:  # back to the same length, by a process whose checkpoints went elsewhere
            _fill(AuditLog(store, keyring, checkpoints=tmp_path / f"{name}-other"), later)
        with pytest.raises(IntegrityError, match="signed checkpoint"):
            log.verify()
    finally:
        store.close()


def test_checkpoints_follow_commits_and_verify_counts_them(log: AuditLog) -> None:
    _fill(log, 3)
    assert [c.seq for c in log.checkpoints()] == [1, 2, 3]
    assert log.verify() == 3
    assert log.checkpoint() == 3
    assert [c.seq for c in log.checkpoints()] == [1, 2, 3, 3]


def test_a_rolled_back_transaction_leaves_no_checkpoint(log: AuditLog) -> None:
    _fill(log, 1)
    with pytest.raises(RuntimeError), log.store.transaction() as conn:
        log.append_in(conn, "steward", "vault.detokenize", {"count": 1})
        raise RuntimeError("the change failed after its event was appended")
    assert [c.seq for c in log.checkpoints()] == [1]
    assert log.verify() == 1


def test_a_transaction_of_many_events_signs_one_checkpoint_of_its_last(log: AuditLog) -> None:
    _fill(log, 1)
    with log.store.transaction() as conn:
        for i in range(5):
            log.append_in(conn, "service", "service.call", {"n": i})
    assert [c.seq for c in log.checkpoints()] == [1, 6]
    # A rolled-back batch leaves nothing pending: the next commit checkpoints its own.
    with pytest.raises(RuntimeError), log.store.transaction() as conn:
        log.append_in(conn, "service", "service.call", {"n": 9})
        raise RuntimeError("rolled back")
    with log.store.transaction() as conn:
        log.append_in(conn, "service", "service.call", {"n": 10})
    assert [c.seq for c in log.checkpoints()] == [1, 6, 7]
    assert log.verify() == 7


def test_many_events_appended_at_once_chain_like_one_at_a_time(log: AuditLog) -> None:
    _fill(log, 2)
    batch = [("front", "service.call", {"route": f"/v1/r{i}", "status": 200}) for i in range(4)]
    with log.store.transaction() as conn:
        assert log.append_many_in(conn, batch) == 6
        assert log.append_many_in(conn, []) == 6
    log.append("steward", "anonymize.run", {"rows": 9})
    assert log.verify() == 7
    assert [c.seq for c in log.checkpoints()] == [1, 2, 6, 7]
    assert [(e.actor, e.details) for e in log.events()][2:6] == [(a, d) for a, _, d in batch]
    with pytest.raises(ParameterError), log.store.transaction() as conn:  # nothing half-written
        log.append_many_in(conn, [("front", "service.call", {}), ("", "service.call", {})])
    assert log.verify() == 7


def test_a_forged_checkpoint_line_is_caught(log: AuditLog) -> None:
    _fill(log, 2)
    lines = log.checkpoint_file.read_text().splitlines()
    record = json.loads(lines[-1])
    record["seq"] = 1  # pretend the log was shorter, to hide a later rollback
    log.checkpoint_file.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n")
    with pytest.raises(IntegrityError, match=r"line 2 .* bad signature"):
        log.verify()


def test_another_keys_checkpoint_is_not_accepted(
    store: Store, log: AuditLog, tmp_path: Path
) -> None:
    _fill(log, 2)
    other_store = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        other = AuditLog(
            other_store,
            Keyring.open(other_store, master_key=secrets.token_bytes(32)),
            checkpoints=log.checkpoint_file.parent,
        )
        _fill(other, 1)
        foreign = other.checkpoint_file.read_text()
    finally:
        other_store.close()
    with log.checkpoint_file.open("a") as f:
        f.write(foreign)
    with pytest.raises(IntegrityError, match=r"line 3 .* another signing key"):
        log.verify()


def test_a_line_cut_short_by_a_crash_is_skipped(log: AuditLog) -> None:
    _fill(log, 2)
    with log.checkpoint_file.open("a") as f:
        f.write('{"at":"2026-')
    assert log.verify() == 2
    _fill(log, 1)  # the next checkpoint starts on a line of its own
    assert [c.seq for c in log.checkpoints()] == [1, 2, 3]


def test_the_checkpoint_file_is_owner_only_and_configurable(
    store: Store, keyring_of: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPVEIL_AUDIT_CHECKPOINTS", str(tmp_path / "anchors"))
    log = AuditLog(store, keyring_of)
    _fill(log, 1)
    assert log.checkpoint_file.parent == tmp_path / "anchors"
    assert stat.S_IMODE(os.stat(log.checkpoint_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "anchors").st_mode) == 0o700
    # Nothing in a checkpoint is event content: only seq, hash, time, key id, signature.
    record = json.loads(log.checkpoint_file.read_text())
    assert sorted(record) == ["at", "hash", "key", "seq", "sig"]
