"""Benchmark k / l / t assessment, Mondrian and the lattice search against their peers.

Reads ARX's Adult from ``../shared/data/adult-arx`` (beside the repository); exits with
status 2 when it is missing. Peers run in this process on the same table: pycanon for the
assessment, anonypy for Mondrian (its rows are left out, and say so, where it is not
installed). The ``memory`` part runs ``anonymize --k`` (``k_anonymize_file``) over UCI
Online Retail repeated to ``--memory-rows`` rows, each size in a fresh process, and
reports its peak resident memory. Every output is checked in the run (k reached by a
group-by of the released rows, rows kept); the JSON says how busy the machine was before
and after. Prints one JSON object; exits 1 when a check fails.

    .venv/bin/python benchmarks/bench_anonymity.py            # everything (minutes)
    .venv/bin/python benchmarks/bench_anonymity.py --quick    # no slow peer runs
    .venv/bin/python benchmarks/bench_anonymity.py --only memory --memory-rows 1000000,4000000
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from _harness import load_average, machine, run_in_child, shared_data
from shopveil.anonymity import (
    KAnonymity,
    anonymize_lattice,
    anonymize_mondrian,
    assess,
    load_hierarchies,
)
from shopveil.data import read_table

DATA = shared_data() / "adult-arx"
RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
SENSITIVE = "salary-class"
KS = [2, 5, 10, 50, 100]
PARTS = (
    "assessment",
    "lattice",
    "mondrian_adult",
    "mondrian_million",
    "classifier",
    "verify",
    "memory",
)
RETAIL_QI = ["Country", "Quantity", "UnitPrice"]


def _smallest_class(table: pa.Table, qi: list[str]) -> int:
    sizes = table.group_by(qi).aggregate([([], "count_all")]).column("count_all")
    return int(pc.min(sizes).as_py())


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
    try:
        from anonypy import mondrian as anonypy_mondrian
    except ImportError:
        anonypy_mondrian = None  # the [bench] extra is not installed: our rows only

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
            "k_anonymous": _smallest_class(result.table, qi) >= k
            and _smallest_class(relaxed.table, qi) >= k,
        }
        if anonypy_mondrian is not None and (not quick or k >= 50):
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
    peer = "anonypy" if anonypy_mondrian is not None else "anonypy not installed: not run"
    return {"peer": peer, "rows": rows}


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
                    "k_anonymous": _smallest_class(result.table, qi) >= k,
                    "rows_kept": result.table.num_rows + result.utility.suppressed_rows
                    == table.num_rows,
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
        "k_anonymous": _smallest_class(result.table, qi) >= 5,
        "rows_kept": result.table.num_rows == n,
    }


def _retail(rows: int, path: Path) -> None:
    """Online Retail, every column as text (as the CLI reads it), repeated to ``rows``."""
    names = "InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID Country"
    types = {name: pa.string() for name in names.split(" ")}
    table = pacsv.read_csv(
        RETAIL, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    )
    copies = -(-rows // table.num_rows)
    pq.write_table(pa.concat_tables([table] * copies).slice(0, rows), path)


def k_anonymize_once(source: str, output: str, master_hex: str) -> dict[str, Any]:
    """``anonymize --k 5`` over ``source`` (run in a child process, for its peak memory)."""
    from shopveil.pipeline import k_anonymize_file
    from shopveil.store import Store

    os.environ["SHOPVEIL_MASTER_KEY"] = master_hex
    store = Store.open(f"sqlite:///{Path(output).parent / 'memory.db'}")
    try:
        started = time.perf_counter()
        done = k_anonymize_file(source, output, k=5, qi=RETAIL_QI, store=store)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    # Not every version of k_anonymize_file has a memory budget; say which ran.
    budget = inspect.signature(k_anonymize_file).parameters.get("memory_budget")
    return {
        "seconds": seconds,
        "rows_in": done.rows_in,
        "k_reached": done.anonymized.utility.min_class_size,
        "memory_budget_bytes": None if budget is None else budget.default,
    }


def bench_memory(sizes: list[int]) -> dict:
    """Peak memory of ``anonymize --k`` by input size, each in a fresh process."""
    if not RETAIL.is_file():
        return {"error": f"{RETAIL} is missing"}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        master = secrets.token_bytes(32).hex()
        for rows in sizes:
            source, output = folder / f"retail_{rows}.parquet", folder / f"k_{rows}.parquet"
            _retail(rows, source)
            run, peak = run_in_child(k_anonymize_once, str(source), str(output), master)
            released = pq.read_table(output, columns=RETAIL_QI)
            runs.append(
                run
                | {
                    "rows": rows,
                    "peak_rss_mb": peak,
                    "k_anonymous": _smallest_class(released, RETAIL_QI) >= 5,
                    "rows_kept": released.num_rows == rows == run["rows_in"],
                }
            )
    first, last = runs[0], runs[-1]
    slope = None
    if last["rows"] > first["rows"]:
        slope = (last["peak_rss_mb"] - first["peak_rss_mb"]) * 1024 / (last["rows"] - first["rows"])
    return {
        "data": "UCI Online Retail repeated, every column text, Parquet; --k 5 --qi "
        + ",".join(RETAIL_QI)
        + ", gdpr preset, Mondrian",
        "runs": runs,
        "kb_per_row_between_first_and_last": None if slope is None else round(slope, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slowest peer runs")
    parser.add_argument("--million", type=int, default=1_000_000, help="rows for Mondrian at scale")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    parser.add_argument(
        "--memory-rows", default="1000000,4000000", help="input sizes for the memory part"
    )
    args = parser.parse_args()
    load_before = load_average()
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
    if "memory" in parts:
        result["memory"] = bench_memory([int(r) for r in args.memory_rows.split(",") if r])
    result["machine"] = machine(load_before)
    checks = _checks(result)
    result["all_checks_pass"] = all(checks)
    print(json.dumps(result, indent=2, default=str))
    return 0 if all(checks) else 1


def _checks(found: object) -> list[bool]:
    """Every ``k_anonymous``, ``rows_kept``, ``agree_*`` and ``all_*`` flag in ``found``."""
    if isinstance(found, dict):
        flags = [
            bool(v)
            for key, v in found.items()
            if key in ("k_anonymous", "rows_kept") or key.startswith(("agree_", "all_"))
        ]
        return flags + [f for v in found.values() for f in _checks(v)]
    if isinstance(found, list):
        return [f for v in found for f in _checks(v)]
    return []


if __name__ == "__main__":
    sys.exit(main())
