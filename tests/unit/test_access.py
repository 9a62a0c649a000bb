"""API keys: shown once, stored only as a keyed hash, bound to a policy role; rate limits."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from shopveil._workspace import workspace_on
from shopveil.errors import ParameterError
from shopveil.governance import Action
from shopveil.policy import load_policy
from shopveil.store import Store, access_keys

GDPR = load_policy("gdpr")


def test_a_key_opens_its_grant_until_revoked_and_is_never_stored(store: Store) -> None:
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    grant, key = ws.access.grant("front", "shop_front", [], policy=GDPR, actor="t")
    assert grant.purposes == ("fulfilment", "personalization")
    assert ws.access.authenticate(key) == grant
    assert grant.may(Action.EVENTS) and not grant.may(Action.AUDIT)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(access_keys)).all()
    assert key not in str(stored) and key[4:] not in str(stored)
    assert ws.access.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    with pytest.raises(ParameterError, match="revoke it first"):
        ws.access.grant("front", "analyst", [], policy=GDPR, actor="t")
    ws.access.revoke("front", actor="t")
    assert ws.access.authenticate(key) is None
    _, again = ws.access.grant("front", "analyst", ["analytics"], policy=GDPR, actor="t")
    assert ws.access.authenticate(key) is None and ws.access.authenticate(again) is not None
    actions = [e.action for e in ws.audit.events()]
    assert actions == ["access.grant", "access.revoke", "access.grant"]
    assert key not in str([e.details for e in ws.audit.events()])


@pytest.mark.parametrize(
    ("name", "role", "purposes", "message"),
    [
        ("x", "admin", [], "cannot be granted"),  # a policy role with no service actions
        ("x", "ghost", [], "cannot be granted"),
        ("x", "analyst", ["marketing"], "may not act for purpose 'marketing'"),
        ("bad name", "analyst", [], "key name"),
        ("", "analyst", [], "key name"),
    ],
)
def test_a_bad_grant_is_refused_and_stores_nothing(
    store: Store, name: str, role: str, purposes: list[str], message: str
) -> None:
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    with pytest.raises(ParameterError, match=message):
        ws.access.grant(name, role, purposes, policy=GDPR, actor="t")
    assert ws.access.grants() == [] and ws.audit.events() == []


def test_the_rate_limiter_allows_the_burst_then_the_rate() -> None:
    pytest.importorskip("fastapi")
    from shopveil.service._limits import RateLimiter

    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=3, clock=lambda: now[0])
    assert [limiter.wait_for("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_for("a") == pytest.approx(0.1)
    assert limiter.wait_for("b") == 0.0  # each key has its own bucket
    now[0] += 0.1
    assert limiter.wait_for("a") == 0.0 and limiter.wait_for("a") > 0
