"""The GDPR preset over the whole shared Online Retail file, checked.

Runs ``shopveil anonymize`` (as a subprocess, like a user) for two purposes over
``../shared/data/online_retail/online_retail_2010-12_2011-09.csv.gz`` and checks:
no original CustomerID in either output, one token per CustomerID within a purpose,
disjoint tokens across purposes, row count kept. Prints one JSON object; exits 1 when a
check fails and 2 when the shared data is not there.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from _harness import load_average, machine, shared_data

DATA = shared_data() / "online_retail"
SOURCE = DATA / "online_retail_2010-12_2011-09.csv.gz"


def anonymize(folder: Path, purpose: str, env: dict[str, str]) -> tuple[Path, float]:
    output = folder / f"retail-{purpose}.parquet"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "shopveil.cli", "anonymize", str(SOURCE), "-o", str(output),
         "--policy", "gdpr", "--purpose", purpose],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return output, time.perf_counter() - started


def main() -> int:
    load_before = load_average()
    if not SOURCE.is_file():
        print(json.dumps({"error": f"{SOURCE} not found: this check needs ../shared/data"}))
        return 2
    original = pl.read_csv(SOURCE, infer_schema=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "SHOPVEIL_HOME": str(folder / "home"),
            "SHOPVEIL_MASTER_KEY": secrets.token_bytes(32).hex(),
        }
        analytics_path, analytics_s = anonymize(folder, "analytics", env)
        marketing_path, _ = anonymize(folder, "marketing", env)
        analytics = pl.read_parquet(analytics_path)
        marketing = pl.read_parquet(marketing_path)

    ids = original["CustomerID"]
    pairs = pl.DataFrame({"id": ids, "token": analytics["CustomerID"]}).drop_nulls()
    tokens_per_id = pairs.group_by("id").agg(pl.col("token").n_unique())
    ids_set = set(ids.drop_nulls())
    bare_ids = {i.removesuffix(".0") for i in ids_set}
    analytics_tokens = set(analytics["CustomerID"].drop_nulls())
    marketing_tokens = set(marketing["CustomerID"].drop_nulls())
    checks = {
        "rows_kept": analytics.height == original.height == marketing.height,
        "no_original_id_in_output": not (ids_set | bare_ids)
        & (analytics_tokens | marketing_tokens),
        "one_token_per_id_within_purpose": int(tokens_per_id["token"].max()) == 1,  # type: ignore[arg-type]
        "distinct_ids_keep_distinct_tokens": len(analytics_tokens) == len(ids_set),
        "tokens_differ_across_purposes": not analytics_tokens & marketing_tokens,
        "nulls_stay_null": analytics["CustomerID"].null_count() == ids.null_count(),
    }
    print(
        json.dumps(
            {
                "file": SOURCE.name,
                "rows": original.height,
                "distinct_customer_ids": len(ids_set),
                "columns_out": analytics.columns,
                "seconds_analytics_run": round(analytics_s, 2),
                "checks": checks,
                "machine": machine(load_before),
            },
            indent=2,
        )
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
