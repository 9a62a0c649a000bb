"""The audit log: chain, tamper detection for each kind of tampering, bad input."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil._core import FixedClock
from shopveil.audit import AuditEvent, AuditLog
from shopveil.errors import IntegrityError, ParameterError
from shopveil.keys import Keyring
from shopveil.keys._crypto import hmac_hex
from shopveil.store import Store

AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def log(store: Store) -> AuditLog:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    return AuditLog(store, keyring, clock=FixedClock(AT))


def _fill(log: AuditLog, n: int = 5) -> list[AuditEvent]:
    return [
        log.append(actor="cli", action="anonymize.run", details={"rows": i, "cols": ["a"]})
        for i in range(n)
    ]


def _sql(store: Store, statement: str, **params: object) -> None:
    with store.transaction() as conn:
        conn.execute(sa.text(statement), params)


def test_append_builds_a_chain(log: AuditLog) -> None:
    events = _fill(log, 4)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert log.events() == events
    assert log.verify() == 4
    assert events[2].details == {"rows": 2, "cols": ["a"]}
    assert events[0].at == AT and events[0].to_dict()["at"] == "2026-03-01T12:30:00.000000+00:00"


def test_empty_log_verifies(log: AuditLog) -> None:
    assert log.verify() == 0
    assert log.events() == []


def test_time_is_stored_in_utc(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    local = datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    event = AuditLog(store, keyring, clock=FixedClock(local)).append("cli", "x.y")
    assert event.at == AT and event.at.utcoffset() == timedelta(0)


def test_details_are_copied_not_shared(log: AuditLog) -> None:
    details = {"cols": ["a", "b"]}
    event = log.append("cli", "x.y", details)
    details["cols"].append("c")
    assert event.details == {"cols": ["a", "b"]}
    assert log.verify() == 1


def test_filter_by_action(log: AuditLog) -> None:
    log.append("cli", "a.one")
    log.append("cli", "b.two")
    assert [e.action for e in log.events(action="b.two")] == ["b.two"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"cols":["a"],"rows":99}'),
        ("actor", "mallory"),
        ("action", "nothing.happened"),
        ("at", "2020-01-01T00:00:00.000000+00:00"),
        ("prev_hash", "1" * 64),
        ("hash", "2" * 64),
    ],
)
def test_a_changed_row_is_detected(log: AuditLog, column: str, value: str) -> None:
    _fill(log)
    _sql(log.store, f"UPDATE shopveil_audit_events SET {column} = :v WHERE seq = 3", v=value)
    with pytest.raises(IntegrityError, match="seq 3"):
        log.verify()


def test_a_deleted_row_is_detected(log: AuditLog) -> None:
    _fill(log)
    _sql(log.store, "DELETE FROM shopveil_audit_events WHERE seq = 2")
    with pytest.raises(IntegrityError, match="seq 2 is missing"):
        log.verify()


def test_a_deleted_last_row_is_detected(log: AuditLog) -> None:
    _fill(log)
    _sql(log.store, "DELETE FROM shopveil_audit_events WHERE seq = 5")
    with pytest.raises(IntegrityError, match="seq 5 is missing"):
        log.verify()


def test_deleting_every_row_is_detected(log: AuditLog) -> None:
    _fill(log)
    _sql(log.store, "DELETE FROM shopveil_audit_events")
    with pytest.raises(IntegrityError, match="seq 1 is missing"):
        log.verify()


def test_reordered_rows_are_detected(log: AuditLog) -> None:
    _fill(log)
    # Swap the positions of events 2 and 3 (via a free seq, the column is the primary key).
    _sql(log.store, "UPDATE shopveil_audit_events SET seq = 100 WHERE seq = 2")
    _sql(log.store, "UPDATE shopveil_audit_events SET seq = 2 WHERE seq = 3")
    _sql(log.store, "UPDATE shopveil_audit_events SET seq = 3 WHERE seq = 100")
    with pytest.raises(IntegrityError, match="seq 2"):
        log.verify()


def test_an_inserted_row_is_detected(log: AuditLog) -> None:
    events = _fill(log)
    # Make room after seq 2, then insert a forged event that links to seq 2.
    for seq in (5, 4, 3):
        _sql(
            log.store, "UPDATE shopveil_audit_events SET seq = :n WHERE seq = :o", n=seq + 1, o=seq
        )
    forged = hmac_hex(b"k" * 32, b"forged")
    _sql(
        log.store,
        "INSERT INTO shopveil_audit_events (seq, at, actor, action, details, prev_hash, hash) "
        "VALUES (3, :at, 'mallory', 'x.y', '{}', :prev, :hash)",
        at=AT.isoformat(),
        prev=events[1].hash,
        hash=forged,
    )
    with pytest.raises(IntegrityError, match="seq 3 was altered"):
        log.verify()


def test_an_appended_forged_row_is_detected(log: AuditLog) -> None:
    events = _fill(log)
    _sql(
        log.store,
        "INSERT INTO shopveil_audit_events (seq, at, actor, action, details, prev_hash, hash) "
        "VALUES (6, :at, 'mallory', 'x.y', '{}', :prev, :hash)",
        at=AT.isoformat(),
        prev=events[-1].hash,
        hash="3" * 64,
    )
    with pytest.raises(IntegrityError, match="seq 6"):
        log.verify()


def test_a_changed_head_is_detected(log: AuditLog) -> None:
    events = _fill(log)
    head = f'{{"hash": "{events[3].hash}", "mac": "{"0" * 64}", "seq": 4}}'
    _sql(log.store, "UPDATE shopveil_meta SET value = :v WHERE key = 'audit_head'", v=head)
    with pytest.raises(IntegrityError, match="head"):
        log.verify()
    with pytest.raises(IntegrityError, match="head"):
        log.append("cli", "x.y")


def test_another_keyring_cannot_verify_the_chain(log: AuditLog, tmp_path: Path) -> None:
    _fill(log)
    elsewhere = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    stranger = Keyring.open(elsewhere, master_key=secrets.token_bytes(32))
    with pytest.raises(IntegrityError, match="seq 1 was altered"):
        AuditLog(log.store, stranger).verify()
    elsewhere.close()


@pytest.mark.parametrize(
    ("actor", "action", "details", "match"),
    [
        ("", "x.y", {}, "actor"),
        ("a\nb", "x.y", {}, "actor"),
        ("cli", "", {}, "action"),
        ("cli", "has space", {}, "action"),
        ("cli", "x.y", {"s": {1, 2}}, "set"),
        ("cli", "x.y", {"b": b"raw"}, "bytes"),
        ("cli", "x.y", {"n": float("nan")}, "finite"),
        ("cli", "x.y", {1: "a"}, "non-string key"),
        ("cli", "x.y", ["not", "a", "mapping"], "mapping"),
        ("cli", "x.y", {"t": (1, 2)}, "tuple"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    log: AuditLog, actor: str, action: str, details: object, match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        log.append(actor, action, details)  # type: ignore[arg-type]
    assert log.events() == []
    assert log.verify() == 0


def test_naive_clock_is_refused(store: Store) -> None:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    log = AuditLog(store, keyring, clock=FixedClock(datetime(2026, 1, 1)))
    with pytest.raises(ParameterError, match="naive"):
        log.append("cli", "x.y")
    assert log.events() == []
