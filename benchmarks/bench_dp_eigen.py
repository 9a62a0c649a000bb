"""The DP Gram-eigenspace recommender: validation tuning, test figures, long tail, speed.

Three parts, each printing one JSON object (reads ``../shared/data`` beside the
repository, or the folder ``SHOPVEIL_SHARED_DATA`` names):

- ``--part tune``: MovieLens 100K, each user's last 20% of ratings held out as the test
  and never read; the last 20% of each user's *training* ratings are the validation
  window. A small grid of ``dp-eigen`` settings is fitted on the rest and scored on the
  validation window at ε = 1 and 8; the setting with the best mean share of ALS's
  validation Recall@20 (new items) is printed as ``chosen``. MovieLens is a public data
  set: the defaults of :class:`shopveil.learn.DPEigen` come from this run, so a
  customer's data is never read to tune.
- ``--part test``: the same split, the defaults fitted once per ε and seed on the full
  training window and scored on the test window, beside ALS and DP popularity; then the
  long-tail mode's trade-off (``tail_weight``) at ε = 1 and 8: Recall@20, coverage and
  novelty on new items; then Online Retail (the split of ``bench_recsys.py``) at ε = 1
  and 8 beside ALS, DP popularity and ``dp-cobuy``.
- ``--part speed``: every private model of the registry fitted at ε = 1 on generated data
  the size of MovieLens 1M (6,000 users, 3,700 items, 1,000,000 interactions, Zipf item
  popularity with user taste clusters). The goal is < 120 s per fit on 2 cores. The
  rank ``dp-eigen`` reads off its release there is printed too (``dp-eigen_rank``).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_dp_eigen.py --part tune
    .venv/bin/python benchmarks/bench_dp_eigen.py --part test
    .venv/bin/python benchmarks/bench_dp_eigen.py --part speed

Fits are seeded through ``insecure_seeded_rng`` and charged to a throwaway ledger.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from _harness import load_average, machine, shared_data
from bench_recsys import last_share_per_user
from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import product_catalogue
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import (
    MODELS,
    Catalogue,
    DPEigen,
    FitContext,
    Interactions,
    ModelPrivacy,
    NoSignalWarning,
    build_recommender,
    evaluate,
    load_interactions,
)
from shopveil.store import Store

MOVIELENS = shared_data() / "movielens-100k"
RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
K = 20
DELTA = 1e-6
GRID = {
    "top_items": (200, 300, 400, 600),
    "popularity_share": (0.2, 0.4),
    "popularity_weight": (0.0, 0.3),
    "spike_power": (0.0, 0.5),
}
TAILS = (0.0, 0.1, 0.2, 0.4, 0.8)


@contextmanager
def scratch_ledger() -> Iterator[Ledger]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            key = PeopleKey(secrets.token_bytes(32))
            yield Ledger(store, default_total=ApproxDP(1e9, 0.5), people_key=key)
        finally:
            store.close()


def seeded(seed: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        return insecure_seeded_rng(seed)


def score(model: Any, train: Interactions, test: Interactions, ledger: Ledger, seed: int) -> dict:
    context = FitContext(ledger=ledger, dataset="bench", rng=seeded(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        start = time.perf_counter()
        fitted = model.fit(train, context)
        fit_s = time.perf_counter() - start
    row = evaluate(fitted, train, test, k=K).as_dict()
    out = {
        "recall_new": row[f"recall@{K}_new"],
        "coverage_new": row["coverage_new"],
        "novelty_new": row["novelty_new"],
        "fit_s": round(fit_s, 3),
    }
    if hasattr(fitted, "rank"):
        out["rank"] = fitted.rank
    return out


def mean(rows: list[dict]) -> dict:
    return {k: round(float(np.mean([r[k] for r in rows])), 5) for k in rows[0]}


def movielens_split() -> tuple[Interactions, Interactions]:
    return last_share_per_user(load_interactions(MOVIELENS), 0.2)


def tune(seeds: int) -> dict[str, Any]:
    train, _test = movielens_split()  # the test window is not used below
    fit, validation = last_share_per_user(train, 0.2)
    with scratch_ledger() as ledger:
        als = score(build_recommender("als"), fit, validation, ledger, 0)
        rows = []
        for values in itertools.product(*GRID.values()):
            options = dict(zip(GRID, values, strict=True))
            row: dict[str, Any] = {"options": options}
            for eps in (1.0, 8.0):
                model = DPEigen(ApproxDP(eps, DELTA), **options)
                runs = [score(model, fit, validation, ledger, s) for s in range(seeds)]
                row[f"eps_{eps:g}"] = mean(runs)
            row["share_of_als"] = round(
                (row["eps_1"]["recall_new"] + row["eps_8"]["recall_new"]) / (2 * als["recall_new"]),
                4,
            )
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    best = max(rows, key=lambda r: r["share_of_als"])
    return {"als_validation": als, "grid": rows, "chosen": best["options"]}


def test(seeds: int) -> dict[str, Any]:
    train, test_part = movielens_split()
    out: dict[str, Any] = {}
    with scratch_ledger() as ledger:
        out["als"] = score(build_recommender("als"), train, test_part, ledger, 0)
        for eps in (0.5, 1.0, 2.0, 4.0, 8.0):
            for name in ("dp-popularity", "dp-eigen"):
                model = build_recommender(name, eps)
                runs = [score(model, train, test_part, ledger, s) for s in range(seeds)]
                out[f"{name} eps={eps:g}"] = mean(runs)
                print(name, eps, out[f"{name} eps={eps:g}"], file=sys.stderr)
        for eps, tail in itertools.product((1.0, 8.0), TAILS):
            model = DPEigen(ApproxDP(eps, DELTA), tail_weight=tail)
            runs = [score(model, train, test_part, ledger, s) for s in range(seeds)]
            out[f"dp-eigen eps={eps:g} tail={tail:g}"] = mean(runs)
        # Online Retail, the split of bench_recsys.py: no regression from dp-cobuy.
        retail = load_interactions(RETAIL, catalogue=Catalogue.from_table(product_catalogue()))
        train = retail.between(None, datetime(2011, 7, 1))
        test_part = retail.between(datetime(2011, 7, 1), datetime(2011, 10, 1))
        out["online_retail als"] = score(build_recommender("als"), train, test_part, ledger, 0)
        for eps in (1.0, 8.0):
            for name in ("dp-popularity", "dp-cobuy", "dp-eigen"):
                model = build_recommender(name, eps)
                runs = [score(model, train, test_part, ledger, s) for s in range(seeds)]
                out[f"online_retail {name} eps={eps:g}"] = mean(runs)
                print("online_retail", name, eps, out[f"online_retail {name} eps={eps:g}"],
                      file=sys.stderr)  # fmt: skip
    return out


def generated(users: int, items: int, events: int, seed: int) -> Interactions:
    """Implicit data the size of MovieLens 1M: Zipf popularity, 20 taste clusters."""
    rng = np.random.default_rng(seed)
    clusters = 20
    base = 1.0 / np.arange(1, items + 1) ** 0.9
    taste = rng.gamma(0.3, 1.0, size=(clusters, items)) * base
    taste /= taste.sum(axis=1, keepdims=True)
    # Per-user activity: log-normal like MovieLens (at least 20, at most half the films).
    per_user = rng.lognormal(0.0, 0.9, size=users)
    per_user = np.clip(per_user / per_user.sum() * events, 20, items // 2).astype(np.int64)
    short = events - int(per_user.sum())
    per_user[: max(short, 0)] += 1  # rounding down left the total short of ``events``
    user_cluster = rng.integers(0, clusters, size=users)
    user_index = np.repeat(np.arange(users), per_user)
    item_index = np.empty(len(user_index), dtype=np.int64)
    start = 0
    for u, n in enumerate(per_user):
        taste_u = taste[user_cluster[u]]
        item_index[start : start + n] = rng.choice(items, size=n, replace=False, p=taste_u)
        start += n
    when = np.datetime64(datetime(2024, 1, 1), "us") + (
        rng.integers(0, 365 * 86400, size=len(user_index)) * np.timedelta64(1, "s")
    )
    catalogue = Catalogue(np.array([f"film{i:05d}" for i in range(items)]))
    return Interactions(
        user_index.astype(np.int32), item_index.astype(np.int32), when,
        np.array([f"u{i:05d}" for i in range(users)]), catalogue.item_ids, catalogue,
    )  # fmt: skip


def speed() -> dict[str, Any]:
    data = generated(6_000, 3_700, 1_000_000, 0)
    distinct = len(np.unique(data.users.astype(np.int64) * data.n_items + data.items))
    out: dict[str, Any] = {
        "users": data.n_users, "items": data.n_items, "interactions": len(data),
        "distinct_pairs": distinct, "fit_s": {},
    }  # fmt: skip
    with scratch_ledger() as ledger:
        for name, entry in MODELS.items():
            if entry.privacy is ModelPrivacy.PUBLIC:
                continue
            context = FitContext(ledger=ledger, dataset=f"speed-{name}", rng=seeded(1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoSignalWarning)
                start = time.perf_counter()
                try:
                    fitted = build_recommender(name, 1.0).fit(data, context)
                except ImportError as exc:
                    out["fit_s"][name] = f"skipped: {exc}"
                    continue
                out["fit_s"][name] = round(time.perf_counter() - start, 2)
            if hasattr(fitted, "rank"):  # how many directions cleared the noise at ε = 1
                out[f"{name}_rank"] = fitted.rank
            print(name, out["fit_s"][name], file=sys.stderr)
    times = [v for v in out["fit_s"].values() if isinstance(v, float)]
    out["checks"] = {"every_fit_under_120_s": all(t < 120 for t in times)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tune", "test", "speed"], required=True)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    load_before = load_average()
    if args.part != "speed" and not MOVIELENS.is_dir():
        print(f"MovieLens 100K missing under {MOVIELENS.parent}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    result = {"tune": tune, "test": test, "speed": lambda _s: speed()}[args.part](args.seeds)
    summary = {
        "part": args.part,
        "machine": machine(load_before),
        "seconds": round(time.perf_counter() - started, 1),
        "k": K,
        "delta": DELTA,
        **result,
    }
    print(json.dumps(summary, default=str))
    return 0 if all(summary.get("checks", {}).values()) else 1


if __name__ == "__main__":
    sys.exit(main())
