"""What the service keeps between requests: key grants for a short time, plans per shape."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pytest

import shopveil.pipeline._dynamic as dynamic
from shopveil._workspace import workspace_on
from shopveil.data import generate_retail
from shopveil.errors import ParameterError, SchemaError
from shopveil.pipeline import PlanCache, protect_records
from shopveil.policy import load_policy
from shopveil.store import Store

pytest.importorskip("fastapi")

from shopveil.service._keys import GrantCache

GDPR = load_policy("gdpr")


def test_a_revoked_key_is_refused_once_its_grant_is_older_than_the_ttl(store: Store) -> None:
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    grant, key = ws.access.grant("front", "shop_front", [], policy=GDPR, actor="t")
    now = [100.0]
    cache = GrantCache(ws.access, ttl=1.0, clock=lambda: now[0])
    assert cache.authenticate(key) == grant
    ws.access.revoke("front", actor="t")
    now[0] += 0.5
    assert cache.authenticate(key) == grant  # trusted for up to ttl seconds
    now[0] += 0.6
    assert cache.authenticate(key) is None  # asked the store again: revoked
    now[0] += 0.1
    assert cache.authenticate(key) is None  # a refusal is never cached as a grant
    assert cache.authenticate("sv_not-a-key") is None


def test_a_ttl_of_zero_asks_the_store_every_time(store: Store) -> None:
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    _, key = ws.access.grant("front", "shop_front", [], policy=GDPR, actor="t")
    cache = GrantCache(ws.access, ttl=0.0, clock=lambda: 5.0)
    assert cache.authenticate(key) is not None
    ws.access.revoke("front", actor="t")
    assert cache.authenticate(key) is None


def test_a_shape_is_compiled_once_and_every_requests_values_are_protected(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    people = generate_retail(20, seed=4).tables["customers"].to_pylist()
    first, second = people[:10], people[10:]
    compiled = []
    compile_plan = dynamic.compile_plan
    monkeypatch.setattr(
        dynamic, "compile_plan", lambda *a, **k: compiled.append(1) or compile_plan(*a, **k)
    )
    plans = PlanCache(GDPR)
    kwargs = {"policy": GDPR, "role": "analyst", "purpose": "analytics", "plans": plans}
    done = [protect_records(ws, batch, **kwargs) for batch in (first, second)]
    assert len(compiled) == 1 and done[0].plan.steps == done[1].plan.steps
    for batch, out in zip((first, second), done, strict=True):
        text = str(out.records)
        assert not any(r["email"] in text or r["name"] in text for r in batch)
    uncached = protect_records(ws, second, policy=GDPR, role="analyst", purpose="analytics")
    assert len(compiled) == 2 and uncached.plan.steps == done[1].plan.steps
    # Another shape (a column dropped) is a new plan, and another role too.
    protect_records(ws, [{k: v for k, v in r.items() if k != "city"} for r in first], **kwargs)
    assert len(compiled) == 3
    with pytest.raises(ParameterError, match="another policy"):
        protect_records(ws, first, policy=load_policy("ccpa"), role="analyst",
                        purpose="analytics", plans=plans)  # fmt: skip


def test_a_cached_plan_does_not_pass_personal_data_a_column_did_not_hold_before(
    store: Store,
) -> None:
    # The attack: a first request fixes the plan of a shape while its free column holds
    # nothing personal; the next request of that shape, from any key, puts emails there.
    ws = workspace_on(store, master_key=secrets.token_bytes(32), actor="t")
    plans = PlanCache(GDPR)
    kwargs = {"policy": GDPR, "role": "analyst", "purpose": "analytics", "plans": plans}
    quiet = [{"customer_id": str(1000 + i), "remark": "called back"} for i in range(10)]
    emails = [f"jo.smith{i}@example.com" for i in range(10)]
    leaky = [{"customer_id": str(2000 + i), "remark": e} for i, e in enumerate(emails)]
    kept = protect_records(ws, quiet, **kwargs)
    assert [r["remark"] for r in kept.records] == ["called back"] * 10
    out = protect_records(ws, leaky, **kwargs)
    assert out.records and not any(e in str(out.records) for e in emails)
    assert out.plan.steps != kept.plan.steps
    # The leaky request's plan was its own; the quiet shape keeps the cached one.
    assert protect_records(ws, quiet, **kwargs).plan.steps == kept.plan.steps
    assert not any(e in str(protect_records(ws, leaky, **kwargs).records) for e in emails)
    # A card number sent as a number is found too: its full scan refuses the column.
    numbers = [{"customer_id": "3001", "remark": 17}]
    assert protect_records(ws, numbers, **kwargs).records[0]["remark"] == 17
    with pytest.raises(SchemaError, match="'remark' looks personal"):
        protect_records(ws, [{"customer_id": "3000", "remark": 4111111111111111}], **kwargs)


def test_requests_that_miss_together_compile_their_shape_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = pa.Table.from_pylist(generate_retail(10, seed=5).tables["customers"].to_pylist())
    compiled = []
    compile_plan = dynamic.compile_plan

    def slow(*args: Any, **kwargs: Any) -> Any:
        compiled.append(1)
        time.sleep(0.2)  # long enough for every other thread to miss too
        return compile_plan(*args, **kwargs)

    monkeypatch.setattr(dynamic, "compile_plan", slow)
    plans = PlanCache(GDPR)
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: plans.plan(table, "analyst", "analytics"), range(8)))
    assert len(compiled) == 1 and all(p is found[0] for p in found)
