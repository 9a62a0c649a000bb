"""Federated churn on UCI Online Retail: accuracy against the central model, cost per round.

Reads ``../shared/data/online_retail`` (beside the repository) and exits 1 when it is
missing. Needs the ``fl`` and ``bench`` extras (Flower, and Ray for Flower's simulation).
Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_federated.py [--quick]

Task: RFM features over 2010-12-01..2011-07-01, churn = no purchase in the next 92 days
(as ``bench_churn.py``); customers split 70/30 once (seed 0). Model: logistic regression
on features scaled by declared caps. The centralized model is ShopVeil's non-private
churn model (:mod:`shopveil.learn`, torch, Adam, 20 epochs) on the same training
customers. Reported, on the held-out customers:

* FedAvg and FedProx by country (one client per country), 20 rounds: AUC against central.
* Customer-level DP-FedAvg at ε = 8 (δ = 1e-6), by country and by customer (one client
  per customer, adaptive clip): AUC against central.
* Compression: 4-bit quantization and top-30% at 4 bits (error feedback), uplink bytes per
  round against plain float64 updates, and the AUC change.
* Secure aggregation by country: AUC and seconds per round.
* Scale: seconds per round and peak memory (the process and all its children) for 10 and
  100 clients (one customer each), ShopVeil's in-process grid against Flower's own
  simulation runtime (Ray backend) running the *same* ServerApp loop and ClientApp; each
  in a fresh process. Flower's start-up (Ray) is reported apart. Flower with 100 clients
  runs only with ``--flower-100`` (at 10 clients it already takes minutes a round here).

Recommender (``--only recommender`` runs just this part; docs/results/federated_recommender.json):
purchases before 2011-07-01 train, 2011-07 … 09 test; federated MF (16 factors, ALS's
loss, one full-batch step of rate 10 per round, 10 rounds) by country against ALS (same
rank and loss, not private) fitted on the same purchases, both scored by
``shopveil.learn.evaluate`` (Recall@20, NDCG@20): FedAvg, personalization (one local
step of rate 1 after the last round; per-country figures), 4-bit quantization, and
customer-level DP-FedAvg at ε = 8 (δ = 1e-6, clip 50, on the bundled product catalogue).
Then one churn run with personalization, and seconds per round and peak memory for 10,
100 and 1,000 recommender clients (one customer each) on ShopVeil's grid, and for 10 on
Flower's simulation.

Prints one JSON object; exits 1 when an output check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from _harness import load_average, machine, run_in_child, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer

RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"


def _data() -> Any:
    import warnings

    from shopveil._core.rng import InsecureRandomnessWarning
    from shopveil.data import load_online_retail
    from shopveil.federated import churn_data

    warnings.simplefilter("ignore", InsecureRandomnessWarning)
    return churn_data(load_online_retail(RETAIL), rng=np.random.default_rng(0))


def _tree_rss_mb() -> float:
    """Resident memory of this process and all its descendants (Ray's too), in MiB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    family, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in family:
                family.add(child)
                frontier.append(child)
    return sum(rss.get(p, 0) for p in family) / 1024


class _PeakSampler:
    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb())
            self._stop.wait(0.25)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_mb())


def _recommender_data() -> Any:
    from shopveil.data import load_online_retail
    from shopveil.federated import recommender_data

    return recommender_data(load_online_retail(RETAIL))


def scale_run(runtime: str, clients: int, rounds: int, model: str = "churn") -> dict[str, float]:
    """Seconds per round and peak memory of one run (called in a fresh process)."""
    from shopveil.federated import RECOMMENDER_TRAINING, FederatedRun, Partition, partition
    from shopveil.federated._client import client_app
    from shopveil.federated._recsys import Factorization, FactorTask, initial_factors
    from shopveil.federated._server import train_on_grid

    initial = None
    if model == "churn":
        data = _data()
        dim, run, task = data.dim, FederatedRun(rounds=rounds), data
    else:
        data = _recommender_data()
        dim = data.dim(Factorization())
        run = FederatedRun(rounds=rounds, training=RECOMMENDER_TRAINING)
        task = FactorTask(data)
        initial = initial_factors(data.n_items, Factorization(), np.random.default_rng(0))
    shards = partition(data, Partition.CUSTOMER, clients=clients)
    app = client_app(task, shards, seed=1)
    stamps: list[float] = []
    start = time.perf_counter()
    with _PeakSampler() as sampler:
        if runtime == "shopveil":
            from shopveil.federated._grid import InProcessGrid

            stamps.append(time.perf_counter())
            train_on_grid(InProcessGrid([app] * clients), dim, run, initial=initial,
                          on_round=lambda r: stamps.append(time.perf_counter()))  # fmt: skip
        else:
            from flwr.serverapp import ServerApp
            from flwr.simulation import run_simulation

            server = ServerApp()

            @server.main()
            def main(grid: Any, context: Any) -> None:
                while len(list(grid.get_node_ids())) < clients:
                    time.sleep(0.1)
                stamps.append(time.perf_counter())
                train_on_grid(grid, dim, run, initial=initial,
                              on_round=lambda r: stamps.append(time.perf_counter()))  # fmt: skip

            run_simulation(
                server_app=server, client_app=app, num_supernodes=clients,
                backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
            )  # fmt: skip
    total = time.perf_counter() - start
    per_round = float(np.diff(stamps).mean())
    return {
        "seconds_per_round": round(per_round, 4),
        "startup_seconds": round(stamps[0] - start, 2),
        "total_seconds": round(total, 2),
        "peak_mb": round(sampler.peak, 1),
    }


def accuracy(args: argparse.Namespace) -> dict[str, Any]:
    import secrets
    import tempfile

    from shopveil.dp import Ledger, PeopleKey
    from shopveil.federated import (
        ClipMode,
        Compression,
        Compressor,
        DPFedAvgConfig,
        FederatedRun,
        LocalTraining,
        Partition,
        simulate,
    )
    from shopveil.store import Store

    data = _data()
    rounds = 10 if args.quick else 20
    out: dict[str, Any] = {"customers": len(data.customers), "train": int(data.train.sum())}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'fl.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        ledger.set_budget("online_retail", PerCustomer("customer"), ApproxDP(1e4, 0.5))
        dp = DPFedAvgConfig(ApproxDP(8.0, 1e-6))
        runs = {
            "fedavg_country": (FederatedRun(rounds=rounds), Partition.COUNTRY),
            "fedprox_country": (
                FederatedRun(rounds=rounds, training=LocalTraining(mu=0.1)),
                Partition.COUNTRY,
            ),
            "dp8_country": (
                FederatedRun(rounds=rounds, dp=dp, training=LocalTraining(epochs=5)),
                Partition.COUNTRY,
            ),
            "quantize4_country": (
                FederatedRun(rounds=rounds, compression=Compression(Compressor.QUANTIZE, 4)),
                Partition.COUNTRY,
            ),
            "topk30_4bit_country": (
                FederatedRun(
                    rounds=rounds, compression=Compression(Compressor.TOPK, 4, fraction=0.3)
                ),
                Partition.COUNTRY,
            ),
            "secagg_country": (
                FederatedRun(rounds=5 if args.quick else 10, secure_aggregation=True),
                Partition.COUNTRY,
            ),
        }
        if not args.quick:
            adaptive = DPFedAvgConfig(ApproxDP(8.0, 1e-6), mode=ClipMode.ADAPTIVE)
            runs["dp8_customer_adaptive"] = (
                FederatedRun(rounds=rounds, dp=adaptive, training=LocalTraining(epochs=5)),
                Partition.CUSTOMER,
            )
        for name, (run, how) in runs.items():
            result = simulate(
                data, run, how=how, ledger=ledger, dataset="online_retail",
                request_id=name, seed=1,
            )  # fmt: skip
            out[name] = {k: v for k, v in result.as_dict().items() if v is not None} | {
                "auc_minus_central": round(result.auc - result.central_auc, 4)
            }
        store.close()
    plain = out["fedavg_country"]["bytes_per_round"]
    for name in ("quantize4_country", "topk30_4bit_country"):
        out[name]["bytes_ratio"] = round(plain / out[name]["bytes_per_round"], 2)
        out[name]["auc_change"] = round(out[name]["auc"] - out["fedavg_country"]["auc"], 4)
    return out


def recommender(args: argparse.Namespace) -> dict[str, Any]:
    """The federated recommender against ALS on the same purchases (see the docs table)."""
    import secrets
    import tempfile

    from shopveil.data import load_online_retail, product_catalogue
    from shopveil.dp import Ledger, PeopleKey
    from shopveil.federated import (
        RECOMMENDER_CLIP,
        RECOMMENDER_FINE_TUNING,
        RECOMMENDER_TRAINING,
        Compression,
        Compressor,
        DPFedAvgConfig,
        FederatedRun,
        Partition,
        recommender_data,
        simulate_recommender,
    )
    from shopveil.learn import Catalogue
    from shopveil.store import Store

    table = load_online_retail(RETAIL)
    plain = recommender_data(table)
    private = recommender_data(table, catalogue=Catalogue.from_table(product_catalogue()))
    rounds = 5 if args.quick else 10
    train = RECOMMENDER_TRAINING
    dp = DPFedAvgConfig(ApproxDP(8.0, 1e-6), clip=RECOMMENDER_CLIP)
    runs = {
        "fedavg_country": (plain, FederatedRun(rounds=rounds, training=train), None),
        "personalized_country": (
            plain,
            FederatedRun(rounds=rounds, training=train),
            RECOMMENDER_FINE_TUNING,
        ),
        "quantize4_country": (
            plain,
            FederatedRun(
                rounds=rounds, training=train, compression=Compression(Compressor.QUANTIZE, 4)
            ),
            None,
        ),
        "dp8_country": (private, FederatedRun(rounds=rounds, training=train, dp=dp), None),
    }
    out: dict[str, Any] = {"customers": len(plain.customers), "items": plain.n_items}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'fl.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        ledger.set_budget("online_retail", PerCustomer("customer"), ApproxDP(1e4, 0.5))
        for name, (data, run, personalize) in runs.items():
            start = time.process_time()
            result = simulate_recommender(
                data, run, how=Partition.COUNTRY, personalize=personalize, ledger=ledger,
                dataset="online_retail", request_id=f"rec-{name}", seed=1,
            )  # fmt: skip
            row = {k: v for k, v in result.as_dict().items() if v is not None}
            if personalize is None:
                row.pop("per_country")
            out[name] = row | {
                "recall_over_central": round(result.recall / result.central_recall, 4),
                "cpu_seconds": round(time.process_time() - start, 1),
            }
        store.close()
    for name in ("personalized_country",):
        rows = out[name]["per_country"].values()
        out[name]["mean_per_country"] = {
            key: round(float(np.mean([r[key] for r in rows])), 4)
            for key in ("recall@20", "personalized_recall@20", "ndcg@20", "personalized_ndcg@20")
        }
    from shopveil.federated import LocalTraining, simulate

    churn = simulate(
        _data(), FederatedRun(rounds=20), how=Partition.COUNTRY, personalize=LocalTraining(),
        seed=1,
    )  # fmt: skip
    out["churn_personalized_country"] = {
        k: v for k, v in churn.as_dict().items()
        if k in ("auc", "central_auc", "personalized_auc", "per_country_auc",
                 "per_country_personalized_auc")
    }  # fmt: skip
    out["quantize4_country"]["bytes_ratio"] = round(
        out["fedavg_country"]["bytes_per_round"] / out["quantize4_country"]["bytes_per_round"], 2
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--flower-100", action="store_true",
        help="also run Flower's simulation with 100 clients (over an hour on 2 loaded cores)",
    )  # fmt: skip
    parser.add_argument(
        "--only", choices=("churn", "recommender"),
        help="run only the churn or only the recommender part",
    )  # fmt: skip
    args = parser.parse_args()
    if not RETAIL.exists():
        print(f"missing {RETAIL}", file=sys.stderr)
        return 1
    load_before = load_average()
    result: dict[str, Any] = {"scale": {}}
    if args.only != "churn":
        result["recommender"] = recommender(args)
        print(json.dumps(result["recommender"]), file=sys.stderr, flush=True)
        for clients in (10, 100, 1000):
            for runtime in ("shopveil", "flower_ray"):
                if runtime == "flower_ray" and clients > 10:
                    continue
                try:
                    figures, _ = run_in_child(scale_run, runtime, clients, 2, "recommender")
                except RuntimeError as error:
                    figures = {"failed": str(error)}
                result["scale"][f"recommender_{runtime}_{clients}"] = figures
    if args.only == "recommender":
        result["machine"] = machine(load_before)
        print(json.dumps(result, indent=2))
        rec = result["recommender"]
        checks = [
            0 < rec["fedavg_country"]["central_recall@20"] <= 1,
            rec["quantize4_country"]["bytes_ratio"] > 1,
            result["scale"]["recommender_shopveil_100"]["peak_mb"] > 0,
        ]
        return 0 if all(checks) else 1
    result["accuracy"] = accuracy(args)
    rounds = 2 if args.quick else 3
    for clients in (10, 100):
        for runtime in ("shopveil", "flower_ray"):
            if runtime == "flower_ray" and clients == 100 and not args.flower_100:
                result["scale"]["flower_ray_100"] = "not run (pass --flower-100)"
                continue
            figures, _ = run_in_child(scale_run, runtime, clients, rounds)
            result["scale"][f"{runtime}_{clients}"] = figures
        if not isinstance(result["scale"][f"flower_ray_{clients}"], dict):
            continue
        ours, theirs = (result["scale"][f"{r}_{clients}"] for r in ("shopveil", "flower_ray"))
        result["scale"][f"ratio_{clients}"] = {
            "seconds_per_round_flower_over_shopveil": round(
                theirs["seconds_per_round"] / ours["seconds_per_round"], 2
            ),
            "peak_mb_flower_over_shopveil": round(theirs["peak_mb"] / ours["peak_mb"], 2),
        }
    result["machine"] = machine(load_before)
    print(json.dumps(result, indent=2))
    acc = result["accuracy"]
    checks = [
        0.5 < acc["fedavg_country"]["central_auc"] <= 1,
        all(acc[k]["rounds"] >= 1 for k in acc if isinstance(acc[k], dict)),
        acc["quantize4_country"]["bytes_ratio"] > 1,
    ]
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
