"""Churn, CLV and segmentation on UCI Online Retail: non-private against DP, and DP-SGD's cost.

Reads ``../shared/data/online_retail`` (beside the repository) and exits 1 when it is
missing. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_churn.py [--quick] [--seeds 3]

Features: RFM per customer from 2010-12-01 up to (not including) ``AS_OF`` = 2011-07-01.
Churn label: no purchase in the next 92 days (Jul–Sep 2011, the end of the file). CLV
target: purchase revenue in those 92 days. Each seed splits customers 70/30 (seeded
shuffle) and trains, on the same split, a non-private model (features standardized with
the data) and DP-SGD models (Opacus, PRV accountant, declared feature caps, no data
statistics) at ε ∈ {1, 3, 8}, δ = 1e-5 (below 1/n for n ≈ 2,000 training customers),
unit = one customer (one example each). Same model (logistic / linear layer; ``--hidden``
for an MLP), epochs, batch size and optimizer in both. Reported: test AUC (churn),
Spearman and MAE of ``log1p`` revenue (CLV), the mean over seeds; and the training-loop
time of DP-SGD over non-private (noise calibration, done once before training, is
reported apart). DP k-means (k = 4) on all customers' unit-scaled features at ρ-zCDP
equivalent to (ε, 1e-5), against scikit-learn's KMeans (10 inits): inertia ratio and
ARI. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.rng import insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.data import load_online_retail
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import (
    CustomerFeatures,
    CustomerModelConfig,
    DPKMeansConfig,
    DPSGDConfig,
    churn_labels,
    clv_targets,
    customer_features,
    dp_kmeans,
    train_customer_model,
)
from shopveil.learn._features import unit_scaled
from shopveil.store import Store

DATA = shared_data()
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
SINCE, AS_OF, HORIZON = datetime(2010, 12, 1), datetime(2011, 7, 1), timedelta(days=92)
EPSILONS = (1.0, 3.0, 8.0)
DELTA = 1e-5
UNIT = PerCustomer("CustomerID")


def rho_for(epsilon: float, delta: float) -> float:
    """The ρ whose zCDP→(ε, δ) conversion ρ + 2√(ρ ln 1/δ) equals ``epsilon``."""
    log = math.log(1 / delta)
    return (math.sqrt(log + epsilon) - math.sqrt(log)) ** 2


def rows(f: CustomerFeatures, index: np.ndarray) -> CustomerFeatures:
    return CustomerFeatures(
        tuple(f.customers[i] for i in index), f.values[index], f.names, f.window_start, f.window_end
    )


def customer_models(
    f: CustomerFeatures, churn: np.ndarray, revenue: np.ndarray, args: argparse.Namespace,
    ledger: Ledger,
) -> dict[str, Any]:  # fmt: skip
    """Churn and CLV, non-private and DP, for every seed; timings of every training loop."""
    auc: dict[str, list[float]] = {}
    spearman: dict[str, list[float]] = {}
    mae: dict[str, list[float]] = {}
    sigma: dict[str, float] = {}
    seconds: dict[str, list[float]] = {"non_private": [], "dp": []}
    calibration: list[float] = []
    rate = 1 / args.batches_per_epoch
    for seed in range(args.seeds):
        rng = insecure_seeded_rng(seed)
        order = rng.permutation(len(f))
        cut = len(f) * 7 // 10
        train, test = order[:cut], order[cut:]
        for task, y in (("churn", churn), ("clv", revenue)):
            config = CustomerModelConfig(
                task=task, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size
            )
            runs: list[tuple[str, DPSGDConfig | None]] = [("inf", None)]
            runs += [
                (f"{e:g}", DPSGDConfig(ApproxDP(e, DELTA), epochs=args.epochs, sample_rate=rate))
                for e in EPSILONS
            ]
            for name, privacy in runs:
                start = time.perf_counter()
                model = train_customer_model(
                    rows(f, train), y[train], config=config, privacy=privacy, ledger=ledger,
                    dataset="online_retail", request_id=f"{task}-{seed}-{name}", unit=UNIT,
                    rng=rng,
                )  # fmt: skip
                total = time.perf_counter() - start
                seconds["non_private" if privacy is None else "dp"].append(model.train_seconds)
                if privacy is not None:
                    calibration.append(total - model.train_seconds)
                    sigma[name] = float(model.privacy.params["noise_multiplier"])  # type: ignore[arg-type]
                predicted = model.predict(rows(f, test))
                if task == "churn":
                    auc.setdefault(name, []).append(float(roc_auc_score(y[test], predicted)))
                else:
                    rho = spearmanr(predicted, y[test]).statistic
                    spearman.setdefault(name, []).append(float(rho))
                    error = np.abs(np.log1p(predicted) - np.log1p(y[test])).mean()
                    mae.setdefault(name, []).append(float(error))
    mean = statistics.fmean
    return {
        "churn_auc": {k: round(mean(v), 4) for k, v in auc.items()},
        "clv_spearman": {k: round(mean(v), 4) for k, v in spearman.items()},
        "clv_mae_log1p": {k: round(mean(v), 4) for k, v in mae.items()},
        "noise_multiplier": {k: round(v, 4) for k, v in sigma.items()},
        "timing": {
            "non_private_train_s": round(mean(seconds["non_private"]), 4),
            "dp_train_s": round(mean(seconds["dp"]), 4),
            "dp_over_non_private": round(mean(seconds["dp"]) / mean(seconds["non_private"]), 3),
            "dp_noise_calibration_s": round(mean(calibration), 3),
            "trainings": {k: len(v) for k, v in seconds.items()},
        },
    }


def segments(f: CustomerFeatures, args: argparse.Namespace, ledger: Ledger) -> dict[str, Any]:
    """DP k-means against scikit-learn's KMeans on the same unit-scaled features."""
    points = unit_scaled(f)
    reference = KMeans(args.clusters, n_init=10, random_state=0).fit(points)
    result: dict[str, Any] = {"clusters": args.clusters, "sklearn_inertia": reference.inertia_}
    for epsilon in EPSILONS:
        rho = rho_for(epsilon, DELTA)
        inertia, ari = [], []
        for seed in range(args.seeds):
            config = DPKMeansConfig(args.clusters, ZCDP(rho), iterations=5)
            model = dp_kmeans(
                f, config=config, ledger=ledger, dataset="online_retail_segments",
                request_id=f"kmeans-{epsilon:g}-{seed}", unit=UNIT, rng=insecure_seeded_rng(seed),
            )  # fmt: skip
            inertia.append(model.inertia(f))
            ari.append(adjusted_rand_score(reference.labels_, model.assign(f)))
        result[f"{epsilon:g}"] = {
            "rho": round(rho, 5),
            "inertia_over_sklearn": round(statistics.fmean(inertia) / reference.inertia_, 3),
            "ari_vs_sklearn": round(statistics.fmean(ari), 3),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--batches-per-epoch", type=int, default=9,
        help="DP-SGD's fixed Poisson rate is 1/this (9: about 256 of the 2,072 training customers)",
    )  # fmt: skip
    parser.add_argument("--hidden", type=int, default=0, help="hidden units (0: linear)")
    parser.add_argument("--clusters", type=int, default=4)
    args = parser.parse_args()
    load_before = load_average()
    if args.quick:
        args.seeds = 1
    if not RETAIL.exists():
        print(f"missing {RETAIL}: put the shared data beside the repository", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    table = load_online_retail(RETAIL)
    f = customer_features(table, as_of=AS_OF, since=SINCE)
    churn = churn_labels(table, as_of=AS_OF, horizon=HORIZON, customers=f.customers)
    revenue = clv_targets(table, as_of=AS_OF, horizon=HORIZON, customers=f.customers)
    with tempfile.TemporaryDirectory() as folder:
        # A person's budget has one kind: DP-SGD spends (ε, δ), DP k-means ρ, so the two
        # experiments get a ledger each.
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        ledger.set_budget("online_retail", UNIT, ApproxDP(1e4, 0.5))
        models = customer_models(f, churn, revenue, args, ledger)
        store.close()
        store = Store.open(f"sqlite:///{Path(folder) / 'segments.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        ledger.set_budget("online_retail_segments", UNIT, ZCDP(1e4))
        clusters = segments(f, args, ledger)
        store.close()
    result = {
        "data": RETAIL.name,
        "window": [SINCE.isoformat(), AS_OF.isoformat()],
        "horizon_days": HORIZON.days,
        "customers": len(f),
        "churn_rate": round(float(churn.mean()), 4),
        "delta": DELTA,
        "unit": "one customer (one training example)",
        "model": "linear" if args.hidden == 0 else f"mlp({args.hidden})",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "sample_rate": 1 / args.batches_per_epoch,
        "seeds": args.seeds,
        **models,
        "kmeans": clusters,
        "machine": machine(load_before),
    }
    sigma = [models["noise_multiplier"][f"{e:g}"] for e in EPSILONS]
    checks = {
        # A model that learned nothing scores 0.5; every fit here should beat it.
        "churn_auc_above_chance": all(v > 0.5 for v in models["churn_auc"].values()),
        # More budget, less noise: the calibration must fall as ε grows.
        "noise_falls_as_epsilon_grows": all(a > b for a, b in itertools.pairwise(sigma)),
        "kmeans_ari_in_range": all(
            -1 <= clusters[f"{e:g}"]["ari_vs_sklearn"] <= 1 for e in EPSILONS
        ),
    }
    result["checks"] = checks
    print(json.dumps(result))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
