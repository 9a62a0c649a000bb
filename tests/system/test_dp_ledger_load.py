"""The ledger under load: 32 concurrent clients (threads, then processes) query one dataset.

Invariants checked on SQLite and (when configured) PostgreSQL: the ε charged never
exceeds the budget, for the account and for every one of its customers; every answered
query has exactly one charge and every charge an answered query; a retried request id is
charged once; a client killed in the middle of its work leaves the account equal to the
sum of its charges, and the store usable.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from shopveil._core.budgets import PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.audit import AuditLog
from shopveil.dp import Ledger, PeopleKey, QueryOptions, run_query
from shopveil.errors import BudgetExceeded
from shopveil.keys import Keyring
from shopveil.store import Store
from shopveil.store._schema import dp_accounts, dp_charges

ROW = PerRow()
CUSTOMERS = PerCustomer("customer", 10)
# One people key for every client, as one workspace has; handed to each process.
KEY = secrets.token_bytes(32)

CLIENTS = 32
BUDGET = 1.0
COST = 0.04  # 25 of the 32 clients fit


def _write_orders(path: Path) -> Path:
    lines = ["customer,country,amount"]
    lines += [f"c{i % 40},{['FR', 'DE', 'UK'][i % 3]},{i % 17}" for i in range(300)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _ask(
    store: Store, data: str, request_id: str, audit: AuditLog | None = None, key: bytes = KEY
) -> tuple[str, bool] | None:
    try:
        options = QueryOptions(
            epsilon=PureDP(COST), keys={"country": ("FR", "DE", "UK")}, unit=CUSTOMERS
        )
        answer = run_query(
            "SELECT country, COUNT(*) FROM orders GROUP BY country",
            data,
            options=options,
            ledger=Ledger(store, audit=audit, people_key=PeopleKey(key)),
            request_id=request_id,
        )
        return answer.request_id, answer.replayed
    except BudgetExceeded:
        return None


def _process_client(url: str, data: str, client: int, key: bytes, out: mp.Queue) -> None:  # type: ignore[type-arg]
    store = Store.open(url)
    results = []
    for k in range(1):
        rid = f"p{client}-{k}"
        results.append(_ask(store, data, rid, key=key))
        results.append(_ask(store, data, rid, key=key))  # a retry of the same request
    store.close()
    out.put(results)


def _ledger_state(url: str) -> tuple[float, list[tuple[str, float]]]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            spent = conn.execute(
                sa.select(dp_accounts.c.spent_epsilon).where(dp_accounts.c.dataset == "orders")
            ).scalar_one()
            charges = conn.execute(sa.select(dp_charges.c.request_id, dp_charges.c.epsilon)).all()
        return float(spent), [(r, float(e)) for r, e in charges]
    finally:
        store.close()


def _check(url: str, answered: set[str]) -> None:
    store = Store.open(url)
    try:
        people = Ledger(store).spending("customer", PureDP(BUDGET))
    finally:
        store.close()
    # Every customer paid every answered query, and none more than the budget.
    assert people.most.epsilon == pytest.approx(len(answered) * COST)  # type: ignore[union-attr]
    assert people.most.epsilon <= BUDGET * (1 + 1e-9)  # type: ignore[union-attr]
    spent, charges = _ledger_state(url)
    charged_ids = [r for r, _ in charges]
    assert len(charged_ids) == len(set(charged_ids))  # nobody charged twice
    assert set(charged_ids) == answered  # every answer charged, every charge answered
    total = sum(e for _, e in charges)
    assert abs(total - spent) < 1e-9
    assert total <= BUDGET * (1 + 1e-9)


def _setup(url: str, unit: PerRow | PerCustomer = CUSTOMERS) -> None:
    store = Store.open(url)
    Ledger(store).set_budget("orders", unit, PureDP(BUDGET))
    store.close()


@pytest.mark.slow
def test_32_threads_never_overspend(store_url: str, tmp_path: Path) -> None:
    data = str(_write_orders(tmp_path / "orders.csv"))
    _setup(store_url)
    ids = [f"t{c}-{k}" for c in range(CLIENTS) for k in range(1)]
    store = Store.open(store_url)
    try:
        # Every charge appends its audit event in the charge's transaction.
        audit = AuditLog(store, Keyring.open(store, master_key=secrets.token_bytes(32)))
        with ThreadPoolExecutor(CLIENTS) as pool:
            firsts = list(pool.map(lambda rid: _ask(store, data, rid, audit), ids))
            retries = list(pool.map(lambda rid: _ask(store, data, rid, audit), ids))
        answered = {r[0] for r in firsts if r is not None}
        assert audit.verify() == len(answered)  # one event per charge, none per retry
        audited = {e.details["request_id"] for e in audit.events(action="dp.charge")}
        assert audited == answered
    finally:
        store.close()
    assert len(answered) == round(BUDGET / COST)  # the budget is used up, not exceeded
    assert all(r is None or r[1] for r in retries if r and r[0] in answered)
    _check(store_url, answered)


@pytest.mark.slow
def test_32_processes_never_overspend(store_url: str, tmp_path: Path) -> None:
    data = str(_write_orders(tmp_path / "orders.csv"))
    _setup(store_url)
    # forkserver: clients fork from a clean process that imported the library once, so
    # they start fast and inherit no DuckDB threads (forking those can deadlock).
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["shopveil.dp", "shopveil.store"])
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_process_client, args=(store_url, data, c, KEY, queue))
        for c in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    answered: set[str] = set()
    for per_client in results:
        for first, retry in zip(per_client[::2], per_client[1::2], strict=True):
            if first is not None:
                answered.add(first[0])
                assert retry is not None and retry[1]  # the retry replays, uncharged
    assert len(answered) == round(BUDGET / COST)
    _check(store_url, answered)


def _charge_forever(url: str, client: int, ready: mp.Event) -> None:  # type: ignore[type-arg]
    store = Store.open(url)
    ledger = Ledger(store)
    k = 0
    ready.set()
    while True:
        try:
            ledger.charge(f"k{client}-{k}", "orders", ROW, PureDP(1e-4))
        except BudgetExceeded:
            time.sleep(0.01)
        k += 1


@pytest.mark.slow
def test_a_client_killed_mid_work_leaves_the_ledger_consistent(store_url: str) -> None:
    _setup(store_url, ROW)
    ctx = mp.get_context("spawn")
    for round_ in range(3):
        ready = ctx.Event()
        proc = ctx.Process(target=_charge_forever, args=(store_url, round_, ready))
        proc.start()
        assert ready.wait(60)
        time.sleep(0.3 + 0.2 * round_)
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        spent, charges = _ledger_state(store_url)
        assert abs(sum(e for _, e in charges) - spent) < 1e-9
    # The store is not left locked: a new client charges at once.
    store = Store.open(store_url)
    try:
        Ledger(store).charge("after-kill", "orders", ROW, PureDP(1e-4))
    finally:
        store.close()
    spent, charges = _ledger_state(store_url)
    assert abs(sum(e for _, e in charges) - spent) < 1e-9
    assert len(charges) > 3
