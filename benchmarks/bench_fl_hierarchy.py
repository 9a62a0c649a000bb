"""Hierarchical federated churn on UCI Online Retail: devices → edge per country → cloud,
next to flat FedAvg over the same devices, in the same run.

Reads ``../shared/data/online_retail`` (beside the repository); exits 1 when it is
missing. Needs the ``fl`` extra. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_fl_hierarchy.py [--rounds N]

Task and split as ``bench_federated.py`` (seed 0). One device per training customer.
Flat: the cloud aggregates every device. Hierarchical: each country's edge aggregates
its devices and sends the cloud one update (the 8 largest countries, the rest merged
into one edge). Reported for plain FedAvg and for customer-level DP-FedAvg (ε = 8,
δ = 1e-6, fixed clip; charged once per customer on a scratch ledger in both): held-out
AUC, bytes per round the cloud receives, bytes per round the edges receive, seconds per
round (CPU, this process).

Prints one JSON object; exits 1 when an output check fails: the hierarchical model must
be the flat one (same AUC within 1e-3 plain, equal under DP with the same noise draw),
and the cloud must receive fewer bytes.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer

RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
EDGES = 9


def _run(data: Any, run: Any, tiered: bool, ledger: Any, tag: str) -> dict[str, Any]:
    from shopveil.federated import Partition, simulate, simulate_hierarchy

    options: dict[str, Any] = {"seed": 1}
    if run.dp is not None:
        options |= {"ledger": ledger, "dataset": "retail", "request_id": tag}
    start = time.process_time()
    if tiered:
        result = simulate_hierarchy(data, run, clients=EDGES, **options)
    else:
        result = simulate(data, run, how=Partition.CUSTOMER, **options)
    cpu = time.process_time() - start
    out = result.as_dict()
    keep = ("auc", "central_auc", "clients", "bytes_per_round", "noise_multiplier")
    row = {k: out[k] for k in keep} | {"cpu_seconds_per_round": round(cpu / run.rounds, 2)}
    if tiered:
        row |= {"edges": out["edges"], "devices": out["devices"],
                "device_bytes_per_round": out["device_bytes_per_round"]}  # fmt: skip
    row["weights"] = result.weights
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not RETAIL.exists():
        print(json.dumps({"error": f"{RETAIL} is missing"}))
        return 1
    from shopveil._core.rng import InsecureRandomnessWarning
    from shopveil.data import load_online_retail
    from shopveil.dp import Ledger, PeopleKey
    from shopveil.federated import DPFedAvgConfig, FederatedRun, LocalTraining, churn_data
    from shopveil.store import Store

    warnings.simplefilter("ignore", InsecureRandomnessWarning)
    data = churn_data(load_online_retail(RETAIL), rng=np.random.default_rng(0))
    runs = {
        "fedavg": FederatedRun(rounds=args.rounds),
        "dp_eps8": FederatedRun(
            rounds=args.rounds, dp=DPFedAvgConfig(ApproxDP(8.0, 1e-6)),
            training=LocalTraining(epochs=5),
        ),
    }  # fmt: skip
    results: dict[str, Any] = {}
    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        store = Store.open(f"sqlite:///{Path(scratch) / 'ledger.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        ledger.set_budget("retail", PerCustomer("customer"), ApproxDP(20.0, 1e-5))
        for name, run in runs.items():
            flat = _run(data, run, False, ledger, f"{name}-flat")
            tiered = _run(data, run, True, ledger, f"{name}-tiered")
            same = np.allclose(flat.pop("weights"), tiered.pop("weights"), atol=1e-6)
            results[name] = {"flat": flat, "hierarchical": tiered, "same_model": same}
            if not same:
                failures.append(f"{name}: the hierarchical model differs from the flat one")
            if not tiered["bytes_per_round"] < flat["bytes_per_round"]:
                failures.append(f"{name}: the cloud does not receive fewer bytes")
            if tiered["device_bytes_per_round"] != flat["bytes_per_round"]:
                failures.append(f"{name}: the devices send the edges other bytes than flat")
        store.close()
    print(json.dumps({"machine": machine(), "load_average": load_average(),
                      "rounds": args.rounds, "results": results, "failures": failures},
                     indent=1))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
