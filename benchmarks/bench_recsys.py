"""Recommenders on a temporal split: every model of the registry, private ones over ε.

Reads ``../shared/data`` beside the repository (exits 1 when it is missing):

- UCI Online Retail: train 2010-12-01 … 2011-06-30, test 2011-07-01 … 2011-09-30, on
  the bundled public product catalogue (``shopveil.data.product_catalogue()``: every
  StockCode of that file and its most frequent description) as the item vocabulary;
- MovieLens 100K: one global time cut leaving the last 20% of ratings for test (every
  rating is an interaction; the cut is printed in the JSON). Two thirds of the users
  rating after that cut have no rating before it, so every model serves them
  popularity; the benchmark therefore also runs a per-user temporal split
  (``movielens_100k_per_user``: each user's last 20% of ratings are the test). The films
  of ``u.item`` are its catalogue.

Every model in :data:`shopveil.learn._registry.MODELS` runs: non-private ones once,
private ones at ε ∈ {0.5, 1, 2, 4, 8} per customer, averaged over ``--seeds`` fits
(and at ∞ when they have a non-private variant). A model that cannot be built or
fitted is listed under ``skipped``. Metrics are Recall@20, NDCG@20, MAP@20 (capped recall, see
``shopveil.learn._metrics``), over all test purchases and over new items only, plus
coverage, diversity, novelty and fit time. Privacy-utility curves (new-item and
all-purchase Recall@20 against ε) are written as PNG and SVG to ``--plots``.
Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_recsys.py [--quick] [--plots docs/img]

Fits are seeded through ``insecure_seeded_rng`` (reproducible, not for release). Budgets
are charged to a throwaway ledger with a large budget.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from _harness import load_average, machine, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import product_catalogue
from shopveil.dp import Ledger, PeopleKey
from shopveil.learn import (
    MODELS,
    Catalogue,
    FitContext,
    Interactions,
    ModelPrivacy,
    build_recommender,
    evaluate,
    load_interactions,
    temporal_split,
)
from shopveil.store import Store
from shopveil.tune import last_share_per_user

DATA = shared_data()
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
MOVIELENS = DATA / "movielens-100k"
EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0)
K = 20


def splits(quick: bool) -> dict[str, tuple[Interactions, Interactions, dict[str, str]]]:
    out = {}
    retail = load_interactions(RETAIL, catalogue=Catalogue.from_table(product_catalogue()))
    train, test = (
        retail.between(None, datetime(2011, 7, 1)),
        retail.between(datetime(2011, 7, 1), datetime(2011, 10, 1)),
    )
    out["online_retail"] = (
        train,
        test,
        {"train": "2010-12-01 … 2011-06-30", "test": "2011-07 … 09"},
    )
    if not quick:
        ratings = load_interactions(MOVIELENS)
        cut = np.sort(ratings.times)[int(0.8 * len(ratings))].astype("datetime64[us]").item()
        train, test = temporal_split(ratings, cut)
        out["movielens_100k"] = (train, test, {"cut": cut.isoformat(), "test_share": "last 20%"})
        train, test = last_share_per_user(ratings, 0.2)
        out["movielens_100k_per_user"] = (train, test, {"cut": "each user's last 20% of ratings"})
    return out


def runs(epsilons: tuple[float, ...]) -> list[tuple[str, float | None]]:
    """(model, ε) pairs from the registry; ε None is the non-private run."""
    out: list[tuple[str, float | None]] = []
    for name, entry in MODELS.items():
        if entry.privacy in (ModelPrivacy.PUBLIC, ModelPrivacy.EITHER):
            out.append((name, None))
        if entry.privacy in (ModelPrivacy.PRIVATE, ModelPrivacy.EITHER):
            out.extend((name, e) for e in epsilons)
    return out


def run_one(
    name: str, epsilon: float | None, train: Interactions, test: Interactions, ledger: Ledger,
    dataset: str, seed: int,
) -> dict[str, Any]:  # fmt: skip
    config = build_recommender(name, epsilon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        rng = insecure_seeded_rng(seed)
    context = FitContext(ledger=ledger, dataset=dataset, rng=rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        fitted = config.fit(train, context)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate(fitted, train, test, k=K).as_dict()
    result |= {"epsilon_asked": epsilon, "fit_s": round(fit_s, 3)}
    result["eval_s"] = round(time.perf_counter() - start, 3)
    notes = {
        str(w.message) for w in caught if not issubclass(w.category, InsecureRandomnessWarning)
    }
    if notes:
        result["notes"] = sorted(notes)
    return result


def average(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first row with every numeric metric replaced by its mean over ``rows``."""
    out = dict(rows[0])
    for key, value in rows[0].items():
        if isinstance(value, float) and key != "epsilon_asked":
            values = [r[key] for r in rows if r.get(key) is not None]
            out[key] = round(float(np.mean(values)), 5)
            if key.startswith("recall@") and len(values) > 1:
                out[f"{key}_sd"] = round(float(np.std(values, ddof=1)), 5)
    out["seeds"] = len(rows)
    return out


def plot(results: dict[str, Any], folder: Path, epsilons: tuple[float, ...]) -> list[str]:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (the [bench] extra): no plots", file=sys.stderr)
        return []

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for dataset, rows in results.items():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, key, title in (
            (axes[0], f"recall@{K}_new", "new items"),
            (axes[1], f"recall@{K}", "all purchases"),
        ):
            by_model: dict[str, list[tuple[float | None, float]]] = {}
            for row in rows:
                if row.get(key) is not None:
                    by_model.setdefault(row["model_name"], []).append(
                        (row["epsilon_asked"], row[key])
                    )
            for index, (model, points) in enumerate(by_model.items()):
                color = plt.get_cmap("tab10")(index % 10)
                private = sorted((e, v) for e, v in points if e is not None)
                public = [v for e, v in points if e is None]
                if private:
                    xs, ys = zip(*private, strict=True)
                    ax.plot(xs, ys, marker="o", color=color, label=model)
                if public:
                    label = None if private else f"{model} (not private)"
                    style = ":" if private else "--"
                    ax.axhline(public[0], color=color, linestyle=style, label=label)
            ax.set_xscale("log", base=2)
            ax.set_xticks(list(epsilons), [f"{e:g}" for e in epsilons])
            ax.set_xlabel("ε per customer")
            ax.set_ylabel(f"Recall@{K} ({title})")
            ax.set_title(f"{dataset}: {title}")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, loc="best")
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = folder / f"recsys_{dataset}.{ext}"
            fig.savefig(path, dpi=120)
            written.append(str(path))
        plt.close(fig)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Online Retail only, ε ∈ {1, 8}.")
    parser.add_argument("--plots", type=Path, default=Path("docs/img"), help="Plot folder.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds", type=int, default=3, help="Fits per private (model, ε), averaged."
    )
    args = parser.parse_args()
    load_before = load_average()
    if not RETAIL.exists() or not MOVIELENS.is_dir():
        print(f"shared data missing under {DATA}", file=sys.stderr)
        return 1
    epsilons = (1.0, 8.0) if args.quick else EPSILONS
    results: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    meta: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        key = PeopleKey(secrets.token_bytes(32))
        ledger = Ledger(store, default_total=ApproxDP(1e9, 0.5), people_key=key)
        try:
            for dataset, (train, test, split) in splits(args.quick).items():
                meta[dataset] = split | {"train_events": len(train), "test_events": len(test)}
                rows = results.setdefault(dataset, [])
                for i, (name, epsilon) in enumerate(runs(epsilons)):
                    repeats = args.seeds if epsilon is not None else 1
                    try:
                        row = average(
                            [
                                run_one(name, epsilon, train, test, ledger, dataset, seed)
                                for seed in range(
                                    args.seed + 100 * i, args.seed + 100 * i + repeats
                                )
                            ]
                        )
                    except (ImportError, NotImplementedError) as exc:
                        skipped[name] = f"{type(exc).__name__}: {exc}"
                        continue
                    row["model_name"] = name
                    rows.append(row)
                    all_new = f"{row[f'recall@{K}']:.4f} / {row[f'recall@{K}_new']:.4f}"
                    print(f"{dataset} {name} ε={epsilon}: {all_new} ({row['fit_s']:.1f}s)",
                          file=sys.stderr)  # fmt: skip
        finally:
            store.close()
    args.plots.mkdir(parents=True, exist_ok=True)
    plots = plot(results, args.plots, epsilons)
    recalls = [
        row[f"recall@{K}{part}"]
        for rows in results.values()
        for row in rows
        for part in ("", "_new")
    ]
    checks = {
        "recalls_are_fractions": all(0.0 <= r <= 1.0 for r in recalls),
        "every_dataset_has_results": all(results.values()),
    }
    summary = {
        "machine": machine(load_before),
        "checks": checks,
        "k": K,
        "epsilons": [*epsilons, None],  # None: not private (ε = ∞)
        "splits": meta,
        "results": results,
        "skipped": skipped,
        "plots": plots,
    }
    print(json.dumps(summary, default=str))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
