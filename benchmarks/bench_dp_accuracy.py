"""Accuracy of DP revenue per country per month on UCI Online Retail at total ε = 1.

Reads ``../shared/data/online_retail`` (the shared benchmark data beside the repository)
and exits 1 when it is missing. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_dp_accuracy.py [--runs 20]

The release: ``SUM(Quantity * UnitPrice)`` per (Country, month), each row's revenue
clamped to [0, BOUND], the (Country, month) pairs of the file taken as public keys, one
row as the privacy unit (a row touches one group, so the L1 sensitivity is BOUND),
ε = 1 for the whole table. The same release is made, in this process and on the same
rows, by ShopVeil (``run_query``), by OpenDP (its vector Laplace measurement, calibrated
with ``binary_search_chain`` to ε = 1 at d_in = BOUND, on the same clamped sums) and
by PipelineDP (``DPEngine`` SUM with the same bounds and public partitions, ε = 1,
local backend; it is slow, so it runs ``--peer-runs`` times). Error is measured against
the exact, unclamped revenue; the median relative error over groups is averaged over
the runs. ShopVeil is also run with
the customer as the privacy unit (≤ 10 rows each) and private key selection, which no
peer here offers in the same form. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer
from shopveil.data import load_online_retail
from shopveil.dp import Ledger, PeopleKey, QueryOptions, run_query
from shopveil.store import Store

DATA = shared_data()
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
BOUND = 100.0
CONTRIBUTIONS = 10
SQL = (
    "SELECT Country, strftime(InvoiceDate, '%Y-%m') AS month, "
    "SUM(Quantity * UnitPrice) AS revenue FROM retail GROUP BY Country, month"
)


def exact_groups(table: pa.Table) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Keys, exact revenue and clamped revenue per (Country, month)."""
    revenue = pc.multiply(table["Quantity"], table["UnitPrice"]).to_numpy(zero_copy_only=False)
    months = pc.strftime(table["InvoiceDate"], format="%Y-%m").to_pylist()
    countries = table["Country"].to_pylist()
    exact: dict[tuple[str, str], float] = {}
    clamped: dict[tuple[str, str], float] = {}
    for c, m, r in zip(countries, months, revenue, strict=True):
        exact[(c, m)] = exact.get((c, m), 0.0) + float(r)
        clamped[(c, m)] = clamped.get((c, m), 0.0) + min(max(float(r), 0.0), BOUND)
    keys = sorted(exact)
    return keys, np.array([exact[k] for k in keys]), np.array([clamped[k] for k in keys])


def median_relative_error(noisy: np.ndarray, exact: np.ndarray) -> float:
    return float(np.median(np.abs(noisy - exact) / np.maximum(np.abs(exact), 1.0)))


def shopveil_row_unit(table: pa.Table, keys: list[tuple[str, str]], ledger: Ledger) -> np.ndarray:
    options = QueryOptions(
        epsilon=PureDP(1.0),
        bounds={"revenue": (0.0, BOUND)},
        keys={
            "Country": tuple(sorted({k[0] for k in keys})),
            "month": tuple(sorted({k[1] for k in keys})),
        },
    )
    # One row as the unit, as the peers count it: without the customer id column, which
    # would otherwise (rightly) make ShopVeil refuse rows as people.
    rows = table.drop_columns(["CustomerID"])
    answer = run_query(SQL, rows, table="retail", options=options, ledger=ledger)
    got = {(r["Country"], r["month"]): r["revenue"].value for r in answer.rows}
    return np.array([got[k] for k in keys])


def shopveil_customer_unit(
    table: pa.Table, keys: list[tuple[str, str]], exact: np.ndarray, ledger: Ledger
) -> tuple[float, int]:
    options = QueryOptions(
        epsilon=PureDP(1.0),
        delta=1e-6,
        unit=PerCustomer("CustomerID", CONTRIBUTIONS),
        bounds={"revenue": (0.0, BOUND)},
    )
    answer = run_query(SQL, table, table="retail", options=options, ledger=ledger)
    truth = dict(zip(keys, exact, strict=True))
    pairs = [(r["revenue"].value, truth[(r["Country"], r["month"])]) for r in answer.rows]
    if not pairs:
        return float("nan"), 0
    noisy, real = (np.array(x) for x in zip(*pairs, strict=True))
    return median_relative_error(noisy, real), len(pairs)


def opendp_release(clamped: np.ndarray) -> np.ndarray | None:
    try:
        import opendp.prelude as dp
    except ImportError:
        return None
    dp.enable_features("contrib")
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    space = (domain, dp.l1_distance(T=float))
    meas = dp.binary_search_chain(
        lambda s: dp.m.make_laplace(*space, scale=s), d_in=BOUND, d_out=1.0
    )
    return np.asarray(meas(clamped.tolist()))


def pipeline_dp_release(table: pa.Table, keys: list[tuple[str, str]]) -> np.ndarray | None:
    try:
        import pipeline_dp
    except ImportError:
        return None
    revenue = pc.multiply(table["Quantity"], table["UnitPrice"]).to_numpy(zero_copy_only=False)
    months = pc.strftime(table["InvoiceDate"], format="%Y-%m").to_pylist()
    rows = list(
        zip(range(len(revenue)), table["Country"].to_pylist(), months, revenue, strict=True)
    )
    accountant = pipeline_dp.NaiveBudgetAccountant(total_epsilon=1.0, total_delta=0.0)
    engine = pipeline_dp.DPEngine(accountant, pipeline_dp.LocalBackend())
    params = pipeline_dp.AggregateParams(
        noise_kind=pipeline_dp.NoiseKind.LAPLACE,
        metrics=[pipeline_dp.Metrics.SUM],
        max_partitions_contributed=1,
        max_contributions_per_partition=1,
        min_value=0.0,
        max_value=BOUND,
    )
    extractors = pipeline_dp.DataExtractors(
        privacy_id_extractor=lambda r: r[0],
        partition_extractor=lambda r: (r[1], r[2]),
        value_extractor=lambda r: float(r[3]),
    )
    result = engine.aggregate(rows, params, extractors, public_partitions=keys)
    accountant.compute_budgets()
    got = {k: v.sum for k, v in result}
    return np.array([got[k] for k in keys])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--peer-runs", type=int, default=3, help="runs of PipelineDP")
    args = parser.parse_args()
    load_before = load_average()
    if not RETAIL.is_file():
        print(f"missing {RETAIL}: this benchmark needs ../shared/data", file=sys.stderr)
        sys.exit(1)
    table = load_online_retail(RETAIL)
    keys, exact, clamped = exact_groups(table)
    errors: dict[str, list[float]] = {"shopveil": [], "opendp": [], "pipeline_dp": []}
    seconds: dict[str, float] = {"shopveil": 0.0, "opendp": 0.0, "pipeline_dp": 0.0}
    customer: list[float] = []
    released: list[int] = []
    complete = noisy = True
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        key = PeopleKey(secrets.token_bytes(32))
        ledger = Ledger(store, default_total=ApproxDP(1e6, 1e-2), people_key=key)
        for run in range(args.runs):
            start = time.perf_counter()
            ours = shopveil_row_unit(table, keys, ledger)
            seconds["shopveil"] += time.perf_counter() - start
            errors["shopveil"].append(median_relative_error(ours, exact))
            # Every public group is released, with noise: never the clamped sums themselves.
            complete &= len(ours) == len(keys) and bool(np.all(np.isfinite(ours)))
            noisy &= not np.array_equal(ours, clamped)
            start = time.perf_counter()
            peer = opendp_release(clamped)
            seconds["opendp"] += time.perf_counter() - start
            if peer is not None:
                errors["opendp"].append(median_relative_error(peer, exact))
            if run < args.peer_runs:
                start = time.perf_counter()
                peer = pipeline_dp_release(table, keys)
                seconds["pipeline_dp"] += time.perf_counter() - start
                if peer is not None:
                    errors["pipeline_dp"].append(median_relative_error(peer, exact))
            err, count = shopveil_customer_unit(table, keys, exact, ledger)
            customer.append(err)
            released.append(count)
        store.close()
    result: dict[str, object] = {
        "rows": table.num_rows,
        "groups": len(keys),
        "epsilon": 1.0,
        "bound": BOUND,
        "runs": args.runs,
        "median_relative_error": {
            k: round(statistics.mean(v), 4) if v else None for k, v in errors.items()
        },
        "seconds_per_release": {
            k: round(v / len(errors[k]), 4) for k, v in seconds.items() if errors[k]
        },
        "clamping_only_error": round(median_relative_error(clamped, exact), 4),
        f"shopveil_per_customer_{CONTRIBUTIONS}": {
            "median_relative_error": round(statistics.mean(customer), 4),
            "groups_released": round(statistics.mean(released), 1),
        },
        "machine": machine(load_before),
    }
    checks = {
        "every_group_released": complete,
        "noise_added": noisy,
        "customer_unit_released_some_groups": min(released) > 0,
    }
    result["checks"] = checks
    print(json.dumps(result))
    if not all(checks.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
