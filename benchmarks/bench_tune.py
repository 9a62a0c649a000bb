"""The tuner on Adult (k-anonymity) and on MovieLens 100K (a private recommender).

Reads ``../shared/data`` beside the repository (exits 2 when it is missing).

- ``adult``: ARX's Adult, the 8 quasi-identifiers ARX uses, k = 10. ShopVeil's own
  lattice search (ARX hierarchies, 0 % and 1 % suppression) and Mondrian (strict and
  relaxed) run in this process first, then ``tune_table``; the tuner's recommended
  release must lose no more (NCP) than the best of them, and is checked k-anonymous by
  a group-by of its released rows.
- ``movielens``: each customer's last 20 % of ratings are the test window; the tuner
  sees only the rest and carves its validation window from it (each customer's last
  20 % of that). ``dp-als`` at each ε of ``--epsilons``: the tuner's recommended point
  must beat the defaults on the validation window by more than twice the standard error
  of the difference of their means at one ε at least (each ε says whether it does);
  then the defaults and the recommended point are each fitted once on the whole
  training window and measured once on the test window (reported, not tuned on).
  Every fit charges a throwaway ledger; the script checks the ledger holds exactly one
  charge per fit the tuner reports, at the fit's ε.

Prints one JSON object; exits 1 when a check fails.

    .venv/bin/python benchmarks/bench_tune.py [--part adult] [--part movielens] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil.anonymity import (
    KAnonymity,
    MondrianMode,
    anonymize_lattice,
    anonymize_mondrian,
    load_hierarchies,
)
from shopveil.data import read_table
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import CUSTOMER, FitContext, build_recommender, evaluate, load_interactions
from shopveil.store import Store
from shopveil.tune import (
    RecommenderSpace,
    RecommenderTarget,
    TableTarget,
    last_share_per_user,
    tune_recommender,
    tune_table,
)

DATA = shared_data()
QI = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass",
      "occupation"]  # fmt: skip
K = 10
GRID = {
    "rank": (2, 4, 8, 16),
    "count_share": (0.1, 0.3, 0.5),
    "reg": (0.3, 1.0, 3.0),
    "popularity_weight": (0.2, 0.5),
}


def _sd(values: tuple[float, ...]) -> float | None:
    return float(statistics.stdev(values)) if len(values) > 1 else None


def _adult(failures: list[str]) -> dict[str, Any]:
    folder = DATA / "adult-arx"
    table = read_table(folder / "adult.csv")
    hierarchies = load_hierarchies(folder, QI)
    own: dict[str, float] = {}
    started = time.perf_counter()
    for limit in (0.0, 0.01):
        result = anonymize_lattice(table, QI, hierarchies, [KAnonymity(K)], limit)
        own[f"lattice_suppress_{limit:g}"] = result.utility.ncp
    for mode in MondrianMode:
        own[f"mondrian_{mode.value}"] = anonymize_mondrian(
            table, QI, [KAnonymity(K)], mode=mode
        ).utility.ncp
    own_s = time.perf_counter() - started
    started = time.perf_counter()
    tuning = tune_table(table, QI, TableTarget(K), hierarchies=hierarchies)
    tune_s = time.perf_counter() - started
    best_own = min(own, key=own.__getitem__)
    chosen = tuning.recommended
    assert chosen.ncp is not None
    if chosen.ncp > own[best_own] + 1e-12:
        failures.append(f"adult: tuner NCP {chosen.ncp} above {best_own} {own[best_own]}")
    released = tuning.release.table
    sizes = released.group_by(QI).aggregate([([], "count_all")]).column("count_all")
    smallest = int(pc.min(sizes).as_py())
    if smallest < K:
        failures.append(f"adult: the recommended release has a class of {smallest} < {K}")
    return {
        "rows": table.num_rows,
        "qi": QI,
        "k": K,
        "shopveil_own_ncp": own,
        "best_own": {"method": best_own, "ncp": own[best_own]},
        "recommended": chosen.to_dict(),
        "recommended_smallest_class": smallest,
        "front": [c.to_dict() for c in tuning.front],
        "candidates": len(tuning.candidates),
        "own_runs_s": round(own_s, 2),
        "tune_s": round(tune_s, 2),
    }


def _movielens(epsilons: list[float], repeats: int, failures: list[str]) -> dict[str, Any]:
    ratings = load_interactions(DATA / "movielens-100k")
    train, test = last_share_per_user(ratings, 0.2)
    out: dict[str, Any] = {
        "events": len(ratings),
        "train_events": len(train),
        "test_events": len(test),
        "split": "each customer's last 20% of ratings are the test window",
        "grid": {k: list(v) for k, v in GRID.items()},
        "runs": [],
    }
    gains: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="bench-tune-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'ledger.db'}")
        try:
            ledger = Ledger(
                store,
                default_total=ApproxDP(1e9, 0.5),
                people_key=PeopleKey(secrets.token_bytes(32)),
            )
            for epsilon in epsilons:
                dataset = f"movielens-eps{epsilon:g}"
                context = FitContext(ledger=ledger, dataset=dataset)
                space = RecommenderSpace.of(GRID, repeats=repeats, finalists=4)
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # no-signal fallbacks are part of the search
                    tuning = tune_recommender(
                        train, "dp-als", RecommenderTarget(epsilon), space=space, context=context
                    )
                tune_s = time.perf_counter() - started
                history = ledger.history(dataset, CUSTOMER, limit=100_000)
                charged = {r.request_id: r.cost for r in history}
                ids = [i for c in tuning.candidates for i in c.request_ids]
                if sorted(charged) != sorted(ids) or len(ids) != tuning.fits:
                    failures.append(f"ε={epsilon}: {len(charged)} charges for {tuning.fits} fits")
                wrong = [i for i in ids if abs(getattr(charged[i], "epsilon", 0) - epsilon) > 1e-9]
                if wrong:
                    failures.append(f"ε={epsilon}: {len(wrong)} charges not at ε")
                best, default = tuning.recommended, tuning.default
                if best.value < default.value:  # the defaults are always a finalist
                    failures.append(f"ε={epsilon}: the recommended point is below the defaults")
                # The gain against the noise of the two means (their fits' spread).
                noise = math.sqrt(
                    sum((_sd(c.scores) or 0.0) ** 2 / len(c.scores) for c in (best, default))
                )
                gains.append(best.value - default.value > 2 * noise)
                test_figures = {}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for name, options in (("default", {}), ("recommended", dict(best.options))):
                        config = build_recommender("dp-als", best.epsilon, options)
                        fitted = config.fit(
                            train, FitContext(ledger=ledger, dataset=f"{dataset}-test")
                        )
                        result = evaluate(fitted, train, test, k=20)
                        test_figures[name] = {
                            "recall@20": result.all.recall,
                            "ndcg@20": result.all.ndcg,
                        }
                out["runs"].append(
                    {
                        "epsilon": epsilon,
                        "default_options": "rank 4 if ε <= 2 else 16, count_share 0.3, reg 1, "
                        "popularity_weight 0.5",
                        "validation": {
                            "default_recall@20": default.value,
                            "default_sd": _sd(default.scores),
                            "default_fits": len(default.scores),
                            "recommended_recall@20": best.value,
                            "recommended_sd": _sd(best.scores),
                            "recommended_fits": len(best.scores),
                            "recommended_options": dict(best.options),
                            "gain": best.value - default.value,
                            "gain_over_2_standard_errors": gains[-1],
                            **dict(tuning.validation),
                        },
                        "test_once": test_figures,
                        "fits": tuning.fits,
                        "epsilon_charged_by_search": tuning.epsilon_charged,
                        "ledger_charges": len(charged),
                        "tune_s": round(tune_s, 1),
                    }
                )
        finally:
            store.close()
    if not any(gains):
        failures.append("at no ε does the recommended point beat the defaults beyond the noise")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["adult", "movielens"], action="append")
    parser.add_argument("--epsilons", default="1,4", help="ε per customer, comma-separated")
    parser.add_argument("--quick", action="store_true", help="one fit per point, ε = 4 only")
    args = parser.parse_args()
    parts = args.part or ["adult", "movielens"]
    if not (DATA / "adult-arx").is_dir() or not (DATA / "movielens-100k").is_dir():
        print(json.dumps({"error": f"{DATA} lacks adult-arx or movielens-100k"}))
        return 2
    before = load_average()
    failures: list[str] = []
    out: dict[str, Any] = {}
    if "adult" in parts:
        out["adult"] = _adult(failures)
    if "movielens" in parts:
        epsilons = [4.0] if args.quick else [float(e) for e in args.epsilons.split(",")]
        out["movielens"] = _movielens(epsilons, 1 if args.quick else 2, failures)
    out |= {"failures": failures, "machine": machine(before)}
    print(json.dumps(out, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
