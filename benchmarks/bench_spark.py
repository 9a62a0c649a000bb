"""The Spark engine next to the local one: rows/s, peak memory, and identical outputs.

One policy (tokens, masks, generalization, FPE) over a generated retail customer table of
``--rows`` rows (Parquet), run once by the local engine (:func:`run_plan`) and once per
``--executors`` count as a Spark job in ``local[N]`` (:func:`run_plan_spark`), each in a
fresh process under one keyring. The run checks that the Spark output equals the local
one row for row (sorted by a kept row number) and prints JSON. Memory is the peak summed
resident memory of the process and its children (the JVM and Python workers for Spark),
sampled every 0.2 s.

The cost model is ``seconds = fixed + rows * per_row / executors``, with ``fixed`` and
``per_row`` solved from two single-executor runs (``local[1]`` on ``--fixed-rows`` rows
and on ``--rows``); it predicts every ``local[N]`` run, printed next to the measured
one. (A least-squares fit over the measured executor counts is printed too.)

    PYTHONPATH=src python benchmarks/bench_spark.py --rows 10000000 --executors 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from _harness import load_average, machine, run_in_child
from shopveil.data import open_source
from shopveil.keys import Keyring
from shopveil.pipeline import run_plan
from shopveil.pipeline._spark_run import run_plan_spark
from shopveil.policy import compile_plan, parse_policy
from shopveil.store import Store

POLICY = """\
shopveil_policy: 1
name: spark-bench
purposes:
  analytics: {release_modes: [record]}
roles:
  analyst: {purposes: [analytics], sees: [direct_identifier, quasi_identifier, other]}
columns:
  customer_id: {class: direct_identifier, kind: customer_id, technique: token}
  email: {class: direct_identifier, kind: email, technique: mask_email}
  card: {class: direct_identifier, kind: card_number, technique: mask_card}
  phone: {class: direct_identifier, kind: phone, technique: fpe, params: {keep_first: 2}}
  postcode: {class: quasi_identifier, kind: postcode, technique: generalize_postcode}
  row: {class: other, technique: keep}
"""
DAY = date(2026, 12, 1)
_CHUNK = 1_000_000


def _generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, _CHUNK):
        n = min(_CHUNK, rows - start)
        ids = rng.integers(0, max(rows // 8, 1), n)
        text = pc.cast(pa.array(ids), pa.string())
        table = pa.table(
            {
                "customer_id": pc.binary_join_element_wise("C", text, ""),
                "email": pc.binary_join_element_wise("user", text, "@shop.example", ""),
                "card": pa.array(np.where(ids % 2 == 0, "4111111111111111", "5500005555555559")),
                "phone": pc.binary_join_element_wise(
                    "+44 20 ", pc.cast(pa.array(rng.integers(10**7, 10**8, n)), pa.string()), ""
                ),
                "postcode": pc.binary_join_element_wise(
                    "SW", pc.cast(pa.array(ids % 20), pa.string()), " 1AA", ""
                ),
                "row": pa.array(np.arange(start, start + n)),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


class _TreeMemory:
    """Peak summed RSS (MiB) of this process and its descendants, sampled in a thread."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))
            self._stop.wait(0.2)


def _tree_rss_mb(root: int) -> float:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * page
        except (OSError, IndexError, ValueError):
            continue
    total, frontier = rss.get(root, 0), [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                total += rss.get(pid, 0)
                frontier.append(pid)
    return total / 2**20


def _run(
    engine: str, source: str, output: str, store_url: str, master_key: str
) -> dict[str, float]:
    store = Store.open(store_url)
    keys = Keyring.open(store, master_key=bytes.fromhex(master_key))
    schema = pq.read_schema(source)
    plan = compile_plan(parse_policy(POLICY), schema, purpose="analytics")
    with _TreeMemory() as memory:
        started = time.perf_counter()
        if engine == "local":
            summary = run_plan(plan, open_source(source), output, keys=keys, as_of=DAY)
        else:
            summary = run_plan_spark(
                plan, Path(source), Path(output), master=engine, keys=keys, as_of=DAY
            )
        seconds = time.perf_counter() - started
    store.close()
    return {"rows": summary.rows_in, "seconds": seconds, "tree_peak_mb": round(memory.peak, 1)}


def _same(local: Path, spark: Path) -> bool:
    a = pq.read_table(local).sort_by("row")
    b = pq.read_table(spark).select(a.column_names).sort_by("row")
    return a.num_rows == b.num_rows and all(
        a.column(name).equals(b.column(name).cast(a.schema.field(name).type))
        for name in a.column_names
    )


def _cost_model(
    rows: int,
    small_rows: int,
    small_seconds: float,
    runs: dict[str, dict[str, object]],
    counts: list[int],
) -> dict[str, object] | None:
    """``fixed + rows * per_row / executors`` from the two single-executor runs, with its
    predictions next to the measured runs (and a least-squares fit over all of them)."""
    if "local[1]" not in runs:
        return None
    big = float(runs["local[1]"]["seconds"])  # type: ignore[arg-type]
    per_row = (big - small_seconds) / (rows - small_rows)
    fixed = small_seconds - small_rows * per_row
    predicted = {
        f"local[{n}]": {
            "predicted_s": round(fixed + rows * per_row / n, 1),
            "measured_s": round(float(runs[f"local[{n}]"]["seconds"]), 1),  # type: ignore[arg-type]
        }
        for n in counts
    }
    model: dict[str, object] = {
        "fixed_s": round(fixed, 2),
        "per_row_us_one_executor": round(per_row * 1e6, 3),
        "small_run": {"rows": small_rows, "seconds": round(small_seconds, 2)},
        "predictions": predicted,
    }
    if len(counts) >= 2:
        x = np.array([1 / n for n in counts])
        y = np.array([runs[f"local[{n}]"]["seconds"] for n in counts], dtype=float)
        work, intercept = np.polyfit(x, y, 1)
        model["least_squares_over_executors"] = {
            "fixed_s": round(float(intercept), 2),
            "work_s_one_executor": round(float(work), 2),
        }
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--executors", default="1,2", help="local[N] for each N listed")
    parser.add_argument(
        "--fixed-rows", type=int, default=100_000, help="rows of the small local[1] run"
    )
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "customers.parquet"
        _generate(source, args.rows)
        store_url, master_key = f"sqlite:///{root / 'keys.db'}", secrets.token_bytes(32).hex()
        Keyring.open(Store.open(store_url), master_key=bytes.fromhex(master_key))
        runs: dict[str, dict[str, object]] = {}
        local_out = root / "local.parquet"
        result, peak = run_in_child(
            _run, "local", str(source), str(local_out), store_url, master_key
        )
        runs["local"] = {
            **result,
            "rows_per_s": round(args.rows / result["seconds"]),
            "peak_mb": peak,
        }
        for n in [int(x) for x in args.executors.split(",")]:
            out = root / f"spark{n}.parquet"
            master = f"local[{n}]"
            result, peak = run_in_child(_run, master, str(source), str(out), store_url, master_key)
            runs[master] = {
                **result,
                "rows_per_s": round(args.rows / result["seconds"]),
                "driver_peak_mb": peak,
                "identical_to_local": _same(local_out, out),
            }
            if not runs[master]["identical_to_local"]:
                raise SystemExit(f"{master}: the Spark output differs from the local one")
        small = root / "small.parquet"
        _generate(small, args.fixed_rows)
        small_run, _ = run_in_child(
            _run, "local[1]", str(small), str(root / "small-out.parquet"), store_url, master_key
        )
    counts = [int(x) for x in args.executors.split(",")]
    model = _cost_model(args.rows, args.fixed_rows, small_run["seconds"], runs, counts)
    local_speed = float(runs["local"]["rows_per_s"])  # type: ignore[arg-type]
    for name, run in runs.items():
        run["ratio_to_local"] = round(float(run["rows_per_s"]) / local_speed, 3)  # type: ignore[arg-type]
        del name
    print(
        json.dumps(
            {
                "rows": args.rows,
                "runs": runs,
                "cost_model": model,
                "machine": machine(load_before),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
