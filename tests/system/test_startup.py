"""Start-up stays cheap: what ``import shopveil`` and its subpackages load.

Times are measured by ``benchmarks/bench_startup.py``, not here (a loaded machine makes
timed tests flaky); these tests check the modules an import loads, in a fresh
interpreter. pyarrow alone takes about 0.1 s to import, numpy and SQLAlchemy about as
much: none of them may load before a command needs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import shopveil

SRC = Path(shopveil.__file__).resolve().parents[1]
HEAVY = (
    "pyarrow", "polars", "pandas", "numpy", "sqlalchemy", "duckdb", "faker", "torch",
    "scipy", "sklearn", "opacus", "opendp", "cryptography", "yaml", "jsonschema",
)  # fmt: skip
CLI_ONLY = ("typer", "click", "rich")
LOADED = (
    "import json, sys\n"
    "print(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}} & set({names!r}))))"
)


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """The packages among ``names`` that a fresh interpreter holds after running ``code``."""
    script = f"{code}\n{LOADED.format(names=names)}"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=120, check=False,
        env=os.environ | {"PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_import_shopveil_loads_no_heavy_package() -> None:
    assert _loaded_after("import shopveil", HEAVY + CLI_ONLY) == []


def test_subpackages_load_only_what_they_need() -> None:
    # A scan drafts a policy: that needs neither the store (SQLAlchemy) nor polars.
    assert _loaded_after("import shopveil.policy, shopveil.data", HEAVY) == []
    code = "from shopveil.policy import load_policy; load_policy('gdpr')"
    assert {"sqlalchemy", "polars", "faker"}.isdisjoint(_loaded_after(code, HEAVY))
