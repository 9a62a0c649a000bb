"""Check that two checkouts of ShopVeil release the same files: row for row, type for type.

A speed change must not change what is released. This runs the GDPR preset
(``anonymize_file``) with the code under ``--before`` and under ``--after`` (each a
``src`` folder, in its own process, under one master key) on the same inputs, and
compares the outputs' schemas and every value. Inputs: Online Retail repeated to
``--rows`` rows as Parquet and as CSV (every column text), and generated order lines with
customers' names, emails and addresses as Parquet. Usage::

    python benchmarks/check_same_release.py --before /path/to/main/src --after src
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bench_gdpr_preset import online_retail, order_lines
from shopveil.keys import Keyring
from shopveil.store import Store

RELEASE = """
import sys
from shopveil.pipeline import anonymize_file
from shopveil.store import Store
store = Store.open(f"sqlite:///{sys.argv[3]}")
anonymize_file(sys.argv[1], sys.argv[2], policy="gdpr", store=store)
store.close()
"""


def release(src: Path, source: Path, output: Path, master_hex: str, keys: Path) -> None:
    """Run the preset with the code in ``src``, in a fresh process, on a copy of ``keys``."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "SHOPVEIL_MASTER_KEY": master_hex}
    store = output.with_suffix(".db")
    shutil.copyfile(keys, store)
    subprocess.run(
        [sys.executable, "-c", RELEASE, str(source), str(output), str(store)], env=env, check=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the src folder before")
    parser.add_argument("--after", type=Path, required=True, help="the src folder after")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    master = secrets.token_bytes(32)
    checks: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = folder / "keys.db"  # one keyring for both, so the tokens can match
        Keyring.open(Store.open(f"sqlite:///{keys}"), master_key=master)
        retail, _, _ = online_retail(args.rows)
        lines, _, _ = order_lines(min(args.rows, 200_000), seed=7)
        inputs = {
            "retail.parquet": lambda p: pq.write_table(retail, p),
            "retail.csv": lambda p: pacsv.write_csv(retail.slice(0, 200_000), p),
            "order_lines.parquet": lambda p: pq.write_table(lines, p),
        }
        for name, write in inputs.items():
            source = folder / name
            write(source)
            outputs = []
            for label, src in (("before", args.before), ("after", args.after)):
                output = folder / f"{label}_{Path(name).stem}.parquet"
                release(src, source, output, master.hex(), keys)
                outputs.append(pq.read_table(output))
            before, after = outputs
            checks[f"{name}: same schema"] = before.schema.equals(after.schema)
            checks[f"{name}: same rows and values ({before.num_rows:,} rows)"] = before.equals(
                after
            )
    print(json.dumps(checks, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
