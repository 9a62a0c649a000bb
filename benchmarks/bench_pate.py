"""PATE churn student on UCI Online Retail: accuracy and AUC against non-private models.

Reads ``../shared/data/online_retail`` (beside the repository) and exits 1 when it is
missing. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pate.py [--runs 5] [--quick]

Churn at ``as_of`` 2011-06-30: RFM features of every customer active before it
(:func:`~shopveil.learn._features.customer_features`, scaled with the declared caps), label
1 when the customer buys nothing in the next 91 days. Customers are split at random into
private (50%: the teachers' shards), public unlabeled (30%: the student's queries) and
test (20%). Reported on the test customers, mean over ``--runs`` seeds:

* ``non_private``: logistic regression on the private customers with their true labels;
* ``teacher_ensemble``: the teachers' noiseless majority vote (AUC from the vote share);
* ``student``: logistic regression (class-balanced, since confident-GNMax answers the
  confident class more often) on the answered queries and their PATE labels, for each
  ε (per customer, δ = 1e-6) and each aggregator, with the ε charged to the ledger
  (data-independent), the data-dependent ε (sensitive, reported only), and the queries
  checked and answered.

Experiments are seeded through ``insecure_seeded_rng``; a release would use the default.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.data import load_online_retail
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import (
    GNMaxConfig,
    Window,
    churn_labels,
    customer_features,
    release_labels,
    train_student,
)
from shopveil.learn._features import unit_scaled
from shopveil.learn._pate import assign_shards, teacher_votes, train_teachers
from shopveil.store import Store

DATA = shared_data()
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
AS_OF = datetime(2011, 6, 30)
HORIZON = timedelta(days=91)
DELTA = 1e-6
UNIT = PerCustomer("CustomerID")
N_TEACHERS = 100
AGGREGATORS = {
    "confident_gnmax": GNMaxConfig(sigma=20.0, threshold=70.0, threshold_sigma=30.0),
    "gnmax": GNMaxConfig(sigma=30.0),
}


def balanced_logistic() -> LogisticRegression:
    return LogisticRegression(max_iter=500, class_weight="balanced")


def scores(y: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    return {"accuracy": float(np.mean(predicted == y)), "auc": float(roc_auc_score(y, score))}


def one_run(
    seed: int, x: np.ndarray, y: np.ndarray, customers: list[str], epsilons: list[float],
    ledger: Ledger,
) -> dict[str, Any]:  # fmt: skip
    rng = insecure_seeded_rng(seed)
    order = rng.permutation(len(y))
    cut1, cut2 = int(0.5 * len(y)), int(0.8 * len(y))
    private, public, test = order[:cut1], order[cut1:cut2], order[cut2:]
    result: dict[str, Any] = {}
    baseline = LogisticRegression(max_iter=500).fit(x[private], y[private])
    result["non_private"] = scores(
        y[test], baseline.predict(x[test]), baseline.predict_proba(x[test])[:, 1]
    )
    shards = assign_shards([customers[i] for i in private], N_TEACHERS, key=rng.bytes(32))
    teachers = train_teachers(x[private], y[private], shards, N_TEACHERS)
    votes = teacher_votes(teachers, x[test], 2)
    result["teacher_ensemble"] = scores(y[test], votes.argmax(axis=1), votes[:, 1] / votes.sum(1))
    window = Window(datetime(2010, 12, 1), AS_OF)
    for name, config in AGGREGATORS.items():
        for eps in epsilons:
            dataset = f"retail-{name}-{eps:g}-{seed}"
            ledger.set_budget(dataset, UNIT, ApproxDP(eps, DELTA))
            release = release_labels(
                ledger, dataset=dataset, unit=UNIT, name="churn", window=window,
                features=x[private], labels=y[private],
                customers=[customers[i] for i in private], queries=x[public], n_labels=2,
                config=config, budget=ApproxDP(eps, DELTA), n_teachers=N_TEACHERS, rng=rng,
            )  # fmt: skip
            entry: dict[str, Any] = {
                "epsilon_charged": release.charged.epsilon,
                "epsilon_data_dependent": release.data_dependent.epsilon
                if release.data_dependent
                else None,
                "ledger_spent": ledger.show(dataset, UNIT).spent.epsilon,
                "checked": release.checked,
                "answered": release.answered,
                "label_accuracy": float(
                    np.mean(release.labels[release.labels >= 0] == y[public][release.labels >= 0])
                ),
            }
            try:
                student = train_student(
                    [release],
                    [x[public]],
                    dataset=dataset,
                    unit=UNIT,
                    config=config,
                    factory=balanced_logistic,
                )
                model = student.model
                entry |= scores(y[test], model.predict(x[test]), model.predict_proba(x[test])[:, 1])
            except Exception as error:  # too few labels for a student: say so, keep going
                entry["student_error"] = type(error).__name__
            result[f"student_{name}_eps{eps:g}"] = entry
    return result


def mean_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in runs[0]:
        fields = {f for run in runs for f in run[key]}
        out[key] = {}
        for f in sorted(fields):
            values = [run[key][f] for run in runs if isinstance(run[key].get(f), int | float)]
            if values:
                out[key][f] = round(statistics.mean(values), 4)
                if len(values) > 1 and f in ("accuracy", "auc"):
                    out[key][f + "_sd"] = round(statistics.stdev(values), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run at ε = 3 only")
    args = parser.parse_args()
    load_before = load_average()
    if not RETAIL.is_file():
        print(f"missing {RETAIL}: this benchmark needs ../shared/data", file=sys.stderr)
        sys.exit(1)
    warnings.simplefilter("ignore", InsecureRandomnessWarning)  # seeded on purpose, see above
    start = time.perf_counter()
    table = load_online_retail(RETAIL)
    features = customer_features(table, as_of=AS_OF)
    labels = churn_labels(table, as_of=AS_OF, horizon=HORIZON, customers=features.customers)
    x, y = unit_scaled(features), labels.astype(np.int64)
    runs, epsilons = (1, [3.0]) if args.quick else (args.runs, [1.0, 3.0, 8.0])
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
        results = [one_run(seed, x, y, list(features.customers), epsilons, ledger)
                   for seed in range(runs)]  # fmt: skip
        store.close()
    print(
        json.dumps(
            {
                "data": RETAIL.name,
                "as_of": AS_OF.date().isoformat(),
                "horizon_days": HORIZON.days,
                "customers": len(y),
                "churn_rate": round(float(y.mean()), 4),
                "split": {"private": 0.5, "public_queries": 0.3, "test": 0.2},
                "n_teachers": N_TEACHERS,
                "delta": DELTA,
                "unit": f"customer:{UNIT.id_column}",
                "aggregators": {k: vars(v) for k, v in AGGREGATORS.items()},
                "runs": runs,
                "results": mean_of(results),
                "seconds": round(time.perf_counter() - start, 2),
                "machine": machine(load_before),
                "checks": checks(results),
            },
            indent=1,
        )
    )
    if not all(checks(results).values()):
        sys.exit(1)


def checks(runs: list[dict[str, Any]]) -> dict[str, bool]:
    """Every release charged at most its ε, and the ledger holds exactly what was charged."""
    charged_ok = ledger_ok = True
    for run in runs:
        for key, entry in run.items():
            if not key.startswith("student_"):
                continue
            epsilon = float(key.rsplit("_eps", 1)[1])
            charged_ok &= entry["epsilon_charged"] <= epsilon + 1e-9
            ledger_ok &= abs(entry["ledger_spent"] - entry["epsilon_charged"]) < 1e-9
    return {"charged_within_epsilon": charged_ok, "ledger_matches_charges": ledger_ok}


if __name__ == "__main__":
    main()
