"""What the consent check costs a DuckDB masked view, per query.

One table of ``--rows`` rows over ``--customers`` customers (one in ten objected to
analytics in a SQLite register) is read through the analyst's view three ways, side by
side in this process: without the register (``consent=False``), with the register's
answer kept for a second (the default ``refresh``), and asked again for every DuckDB
vector (``refresh=0``). Each query fetches the whole view as Arrow; the check is that the
objecting customers' rows are gone and every other row stays. Prints one JSON object;
exits 1 when a check fails.

    .venv/bin/python benchmarks/bench_view_consent.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from _harness import load_average, machine
from shopveil.audit import AuditLog
from shopveil.governance import (
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
)
from shopveil.keys import Keyring
from shopveil.pipeline import create_masked_view
from shopveil.policy import load_policy
from shopveil.store import Store


def _query(con: object, view: str, repeats: int) -> tuple[int, float, float]:
    rows, wall, cpu = 0, [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        rows = con.sql(f"SELECT * FROM {view}").to_arrow_table().num_rows  # type: ignore[attr-defined]
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return rows, min(wall), min(cpu)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import duckdb

    rng = np.random.default_rng(7)  # data only
    ids = rng.integers(0, args.customers, args.rows)
    table = pa.table(
        {
            "customer_id": pa.array([f"c{i}" for i in ids]),
            "country": pa.array(rng.choice(["United Kingdom", "France"], args.rows)),
            "amount": pa.array(rng.gamma(2.0, 20.0, args.rows)),
        }
    )
    objected = set(range(0, args.customers, 10))
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'store.db'}")
        keys = Keyring.open(store, master_key=secrets.token_bytes(32))
        register = ConsentRegister(store, keys, AuditLog(store, keys))
        at = datetime(2024, 1, 1, tzinfo=UTC)
        refused = ConsentRecord(ConsentPurpose.ANALYTICS, ConsentStatus.REFUSED, at, None, "b")
        register.record([ConsentRow("-", f"c{c}", refused) for c in objected], actor="bench")
        con = duckdb.connect()
        con.register("orders_arrow", table)
        con.execute("CREATE TABLE orders AS SELECT * FROM orders_arrow")
        policy = load_policy("gdpr")
        runs = {}
        for name, options in (
            ("no_consent", {"consent": False}),
            ("refresh_1s", {"store": store, "refresh": 1.0}),
            ("refresh_every_vector", {"store": store, "refresh": 0.0}),
        ):
            view = create_masked_view(
                con, "orders", policy, "analyst", view=f"v_{name}", keys=keys, **options
            )
            rows, wall, cpu = _query(con, view, args.repeats)
            runs[name] = {"rows": rows, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        store.close()
    allowed = int(sum(int(i) not in objected for i in ids))
    base = runs["no_consent"]
    for name in ("refresh_1s", "refresh_every_vector"):
        runs[name]["cpu_vs_no_consent"] = round(runs[name]["cpu_s"] / base["cpu_s"], 2)
        runs[name]["extra_cpu_ms_per_million_rows"] = round(
            (runs[name]["cpu_s"] - base["cpu_s"]) * 1e9 / args.rows, 1
        )
    checks = {
        "no_consent_keeps_every_row": base["rows"] == args.rows,
        "consent_leaves_out_objections": all(
            runs[n]["rows"] == allowed for n in ("refresh_1s", "refresh_every_vector")
        ),
    }
    print(
        json.dumps(
            {
                "rows": args.rows,
                "customers": args.customers,
                "objected": len(objected),
                "runs": runs,
                "checks": checks,
                "machine": machine(),
                "load_before": load_before,
                "load_after": load_average(),
            },
            indent=2,
        )
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
