"""``shopveil link`` end to end: two files with typos in, matches and their quality out."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shopveil.data import RetailOptions, generate_retail, read_table, write_table
from shopveil.pseudo import link_test_set

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from shopveil.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    options = RetailOptions(orders_per_customer=0, sessions_per_customer=0, text=False)
    customers = generate_retail(500, seed=5, options=options).tables["customers"]
    fields = ["name", "email", "birth_date"]
    test_set = link_test_set(customers, fields, typo_rate=0.1, rng=np.random.default_rng(8))
    left, right = tmp_path / "retailer.csv", tmp_path / "partner.parquet"
    write_table(test_set.left, left)
    write_table(test_set.right, right)
    return left, right


def test_link_reports_precision_and_recall(
    files: tuple[Path, Path], tmp_path: Path, store_url: str
) -> None:
    left, right = files
    env = {**os.environ, "SHOPVEIL_HOME": str(tmp_path / "home"), "SHOPVEIL_DB_URL": store_url}
    out = tmp_path / "matches.csv"
    args = [str(left), str(right), "--on", "name,email,birth_date", "-o", str(out)]
    done = _cli(env, "link", *args, "--truth", "truth", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["clk"]["precision"] >= 0.95 and report["clk"]["recall"] >= 0.95
    assert report["exact_match"]["recall"] < report["clk"]["recall"]
    matches = read_table(out)
    assert matches.column_names == ["left_row", "right_row", "score"]
    assert matches.num_rows == report["matches"]
    # No raw identifier reaches the output or the report.
    left_names = set(read_table(left)["name"].to_pylist())
    assert not any(name in done.stdout for name in left_names)

    # A shared secret from the partner gives the same kind of result without the keyring.
    shared = {**env, "LINK_SECRET": secrets.token_hex(32)}
    again = _cli(shared, "link", *args, "--secret-env", "LINK_SECRET")
    assert again.returncode == 0, again.stderr


def test_bad_input_fails_cleanly_and_writes_nothing(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    left, right = files
    env = {**os.environ, "SHOPVEIL_HOME": str(tmp_path / "home")}
    env.pop("SHOPVEIL_DB_URL", None)
    out = tmp_path / "matches.csv"
    for extra in (["--on", "name,shoe_size"], ["--on", "name", "--threshold", "1.5"]):
        done = _cli(env, "link", str(left), str(right), *extra, "-o", str(out))
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
        assert not out.exists()
    good = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    # Refused like a bad master key: too short, a stray character (base64 decoding
    # without validation used to skip it and link under a different secret), 16 bytes.
    for bad in ("abc", good[:20] + "!" + good[20:], secrets.token_hex(16)):
        done = _cli(
            {**env, "S": bad},
            "link",
            str(left),
            str(right),
            "--on",
            "name",
            "--secret-env",
            "S",
            "-o",
            str(out),
        )
        assert done.returncode == 2 and "32 bytes" in done.stderr, done.stderr
        assert bad not in done.stderr and not out.exists()
