"""Benchmark k / l / t assessment, Mondrian and the lattice search against their peers.

Reads ARX's Adult from ``../shared/data/adult-arx`` (beside the repository); exits with
status 2 when it is missing. Peers run in this process on the same table: pycanon for the
assessment, anonypy for Mondrian. Prints one JSON object.

    .venv/bin/python benchmarks/bench_anonymity.py            # everything (minutes)
    .venv/bin/python benchmarks/bench_anonymity.py --quick    # no slow peer runs
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shopveil.anonymity import (
    KAnonymity,
    anonymize_lattice,
    anonymize_mondrian,
    assess,
    load_hierarchies,
)
from shopveil.data import read_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult-arx"
SENSITIVE = "salary-class"
KS = [2, 5, 10, 50, 100]
PARTS = ("assessment", "lattice", "mondrian_adult", "mondrian_million", "classifier", "verify")


def _timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _loss(frame: pd.DataFrame, qi: list[str], partitions: list[np.ndarray]) -> dict[str, float]:
    """NCP and discernibility of a partition of ``frame``, by ShopVeil's definitions."""
    n = len(frame)
    total = 0.0
    for name in qi:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column)
        values = column.to_numpy()
        if numeric:
            width = float(values.max() - values.min()) or 1.0
        domain = max(column.nunique() - 1, 1)
        for rows in partitions:
            part = values[rows]
            if numeric:
                total += len(rows) * float(part.max() - part.min()) / width
            else:
                total += len(rows) * (len(pd.unique(part)) - 1) / domain
    sizes = np.array([len(p) for p in partitions], dtype=np.float64)
    return {
        "ncp": total / (n * len(qi)),
        "discernibility": float((sizes**2).sum()),
        "classes": len(partitions),
    }


def bench_assessment(table: pa.Table, frame: pd.DataFrame, qi: list[str], quick: bool) -> dict:
    from pycanon import anonymity as pycanon

    ours_k, report_k = _timed(lambda: assess(table, qi), repeat=5)
    ours_lt, report = _timed(lambda: assess(table, qi, [SENSITIVE]), repeat=5)
    out: dict[str, Any] = {
        "rows": len(frame),
        "qi": len(qi),
        "ours_k_s": ours_k,
        "ours_k_l_t_and_risk_s": ours_lt,
        "k": report_k.k,
        "l": report.l,
        "t": report.t,
    }
    peer_k, k = _timed(lambda: pycanon.k_anonymity(frame, qi))
    peer_l, l_value = _timed(lambda: pycanon.l_diversity(frame, qi, [SENSITIVE]))
    out |= {"pycanon_k_s": peer_k, "pycanon_l_s": peer_l, "agree_k": k == report.k}
    out["agree_l"] = l_value == report.l
    out["ratio_k"] = peer_k / ours_k
    out["ratio_l"] = peer_l / ours_lt
    if not quick:
        peer_t, t_value = _timed(lambda: pycanon.t_closeness(frame, qi, [SENSITIVE]))
        out |= {"pycanon_t_s": peer_t, "agree_t": bool(abs(t_value - report.t) < 1e-9)}
        out["ratio_t"] = peer_t / ours_lt
    return out


def bench_mondrian(table: pa.Table, frame: pd.DataFrame, qi: list[str], quick: bool) -> dict:
    from anonypy import mondrian as anonypy_mondrian

    peer_frame = frame.copy()
    peer_frame["age"] = peer_frame["age"].astype(int)
    for name in qi:
        if name != "age":
            peer_frame[name] = peer_frame[name].astype("category")
    rows = []
    for k in KS:
        seconds, result = _timed(lambda k=k: anonymize_mondrian(table, qi, [KAnonymity(k)]))
        relaxed_s, relaxed = _timed(
            lambda k=k: anonymize_mondrian(table, qi, [KAnonymity(k)], mode="relaxed")
        )
        row: dict[str, Any] = {
            "k": k,
            "ours_s": seconds,
            "ours_ncp": result.utility.ncp,
            "ours_discernibility": result.utility.discernibility,
            "ours_relaxed_s": relaxed_s,
            "ours_relaxed_ncp": relaxed.utility.ncp,
            "ours_relaxed_discernibility": relaxed.utility.discernibility,
        }
        if not quick or k >= 50:
            engine = anonypy_mondrian.Mondrian(peer_frame, qi, SENSITIVE)
            peer_s, parts = _timed(lambda engine=engine, k=k: engine.partition(k))
            loss = _loss(peer_frame, qi, [np.asarray(p) for p in parts])
            row |= {
                "anonypy_s": peer_s,
                "anonypy_ncp": loss["ncp"],
                "anonypy_discernibility": loss["discernibility"],
                "ratio_s": peer_s / seconds,
            }
        rows.append(row)
    return {"rows": rows}


def bench_lattice(table: pa.Table, qi: list[str]) -> dict:
    hierarchies = load_hierarchies(DATA, qi)
    rows = []
    for k in KS:
        for limit in (0.0, 0.01):
            seconds, result = _timed(
                lambda k=k, limit=limit: anonymize_lattice(
                    table, qi, hierarchies, [KAnonymity(k)], limit
                )
            )
            rows.append(
                {
                    "k": k,
                    "suppression_limit": limit,
                    "seconds": seconds,
                    "levels": result.utility.levels,
                    "ncp": result.utility.ncp,
                    "suppressed": result.utility.suppressed_rows,
                    "classifier_accuracy": result.utility.classifier_accuracy,
                }
            )
    return {"rows": rows}


def bench_classifier(table: pa.Table, qi: list[str]) -> dict:
    """Naive Bayes accuracy on held-out original rows, trained on each released table."""
    from shopveil._core import insecure_seeded_rng

    hierarchies = load_hierarchies(DATA, qi)
    rows = []
    for k in KS:
        lattice = anonymize_lattice(
            table,
            qi,
            hierarchies,
            [KAnonymity(k)],
            0.01,
            sensitive=[SENSITIVE],
            rng=insecure_seeded_rng(k),
        )
        mondrian = anonymize_mondrian(
            table, qi, [KAnonymity(k)], sensitive=[SENSITIVE], rng=insecure_seeded_rng(k)
        )
        rows.append(
            {
                "k": k,
                "lattice_1pct_accuracy": lattice.utility.classifier_accuracy,
                "mondrian_accuracy": mondrian.utility.classifier_accuracy,
                "original_accuracy": mondrian.utility.baseline_accuracy,
            }
        )
    return {"target": SENSITIVE, "classifier": "categorical naive Bayes (numpy)", "rows": rows}


def verify_full_table(table: pa.Table, qi: list[str]) -> dict:
    """Check every output on the whole table independently: a pandas group-by and pycanon."""
    from pycanon import anonymity as pycanon

    hierarchies = load_hierarchies(DATA, qi)
    rows = []
    for k in KS:
        outputs = {
            "lattice_0pct": anonymize_lattice(table, qi, hierarchies, [KAnonymity(k)], 0.0),
            "lattice_1pct": anonymize_lattice(table, qi, hierarchies, [KAnonymity(k)], 0.01),
            "mondrian_strict": anonymize_mondrian(table, qi, [KAnonymity(k)]),
            "mondrian_relaxed": anonymize_mondrian(table, qi, [KAnonymity(k)], mode="relaxed"),
        }
        for name, result in outputs.items():
            frame = result.table.to_pandas()
            smallest = int(frame.groupby(qi).size().min())
            rows.append(
                {
                    "k": k,
                    "output": name,
                    "rows": len(frame),
                    "group_by_min_class": smallest,
                    "pycanon_k": int(pycanon.k_anonymity(frame, qi)),
                    "k_anonymous": smallest >= k and pycanon.k_anonymity(frame, qi) >= k,
                }
            )
    return {"all_k_anonymous": all(r["k_anonymous"] for r in rows), "rows": rows}


def bench_million(n: int) -> dict:
    rng = np.random.default_rng(20260101)  # benchmark data, not a privacy mechanism
    table = pa.table(
        {
            "age": rng.integers(18, 91, n),
            "postcode": rng.integers(10000, 11000, n),
            "gender": rng.choice(np.array(["F", "M", "X"]), n, p=[0.49, 0.49, 0.02]),
            "country": rng.choice(np.array([f"C{i:02d}" for i in range(30)]), n),
            "signup_year": rng.integers(2005, 2026, n),
            "spend": rng.gamma(2.0, 50.0, n).round(2),
        }
    )
    qi = ["age", "postcode", "gender", "country", "signup_year"]
    seconds, result = _timed(lambda: anonymize_mondrian(table, qi, [KAnonymity(5)]))
    return {
        "rows": n,
        "qi": len(qi),
        "seconds": seconds,
        "classes": result.utility.classes,
        "ncp": result.utility.ncp,
        "min_class_size": result.utility.min_class_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slowest peer runs")
    parser.add_argument("--million", type=int, default=1_000_000, help="rows for Mondrian at scale")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    args = parser.parse_args()
    path = DATA / "adult.csv"
    if not path.is_file():
        print(f"error: {path} is missing; this benchmark needs ../shared/data", file=sys.stderr)
        return 2
    table = read_table(path)
    frame = pd.read_csv(path, sep=";", dtype=str)
    qi = [name for name in table.column_names if name != SENSITIVE]
    warnings.simplefilter("ignore")  # peers' pandas deprecations must not end the run
    parts = args.only or list(PARTS)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, 2 shared cores",
        "data": "ARX Adult, 30,162 rows x 8 QIs (../shared/data/adult-arx/adult.csv)",
    }
    if "assessment" in parts:
        result["assessment"] = bench_assessment(table, frame, qi, args.quick)
    if "lattice" in parts:
        result["lattice"] = bench_lattice(table, qi)
    if "mondrian_adult" in parts:
        result["mondrian_adult"] = bench_mondrian(table, frame, qi, args.quick)
    if "verify" in parts:
        result["verify"] = verify_full_table(table, qi)
    if "classifier" in parts:
        result["classifier"] = bench_classifier(table, qi)
    if "mondrian_million" in parts:
        result["mondrian_million"] = bench_million(args.million)
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
