"""``shopveil attack linkage`` on the bundled Online Retail slice: naive, GDPR, k-anonymous."""

from __future__ import annotations

import json
import secrets
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from shopveil.attacks import LinkageConfig, linkage_attack
from shopveil.attacks._linkage import consistent
from shopveil.errors import ParameterError, SchemaError

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"
AUX = "InvoiceDate,StockCode"
runner = CliRunner()


def _naive(original: Path, folder: Path) -> Path:
    """Customer ids replaced by random tokens, one per customer; every other column kept."""
    table = pacsv.read_csv(original)
    ids = pc.cast(table.column("CustomerID"), pa.string()).to_pylist()
    tokens = {c: secrets.token_hex(8) for c in set(ids) if c is not None}
    column = pa.array([tokens.get(c) if c is not None else None for c in ids], pa.string())
    path = folder / "naive.csv"
    pacsv.write_csv(
        table.set_column(table.column_names.index("CustomerID"), "CustomerID", column), path
    )
    return path


def _attack(release: Path, original: Path) -> dict:  # type: ignore[type-arg]
    args = ["attack", "linkage", "--release", str(release), "--original", str(original)]
    result = runner.invoke(app, [*args, "--aux", AUX, "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_naive_pseudonyms_are_mostly_reidentified_and_k_anonymity_cuts_that(tmp_path: Path) -> None:
    naive = _attack(_naive(SAMPLE, tmp_path), SAMPLE)
    assert naive["reidentified"] >= 0.9
    k_file = tmp_path / "k10.csv"
    made = runner.invoke(
        app,
        [
            "anonymize",
            str(SAMPLE),
            "-o",
            str(k_file),
            "--k",
            "10",
            "--qi",
            "InvoiceDate,StockCode,Country",
        ],
    )
    assert made.exit_code == 0, made.output
    # The k-anonymous release links no rows to a person (the pseudonym is dropped), so
    # three known purchases no longer intersect down to one customer.
    assert "CustomerID" not in pacsv.read_csv(k_file).column_names
    k_anonymous = _attack(k_file, SAMPLE)
    assert k_anonymous["reidentified"] <= 0.05
    assert k_anonymous["mean_candidates"] > naive["mean_candidates"]


def test_a_release_without_declared_quasi_identifiers_is_one_line(tmp_path: Path) -> None:
    args = ["attack", "linkage", "--release", str(SAMPLE), "--original", str(SAMPLE)]
    result = runner.invoke(app, [*args, "--aux", " , ", "--json"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "--aux" in result.stderr


def test_misaligned_or_missing_columns_are_refused() -> None:
    table = pacsv.read_csv(SAMPLE)
    with pytest.raises(ParameterError, match="rows in the original's order"):
        linkage_attack(table, table.slice(1), LinkageConfig(("StockCode",)))
    with pytest.raises(SchemaError, match="aux column 'Nope' is not in the original"):
        linkage_attack(table, table, LinkageConfig(("Nope",)))


@pytest.mark.parametrize(
    ("released", "original", "expected"),
    [
        ("2011-03", "2011-03-07 10:15:00", True),
        ("2011-0", "2011-03-07 10:15:00", False),  # not a prefix that ends on a separator
        ("{21730, 85123A}", "85123A", True),
        ("{21730, 85123A}", "8512", False),
        ("12***", "12345", True),
        ("*", "anything", True),
        ("France", "Germany", False),
    ],
)
def test_release_values_consistent_with_originals(
    released: str, original: str, expected: bool
) -> None:
    assert consistent(released, original) is expected


def test_the_index_finds_exactly_the_consistent_values() -> None:
    from shopveil.attacks._linkage import _ReleasedColumn

    released = ["2011-03", "2011-03-07 10:15:00", "{a, b}", "12***", "*", "France", "2011"]
    column = _ReleasedColumn(np.asarray(released, dtype=object))
    distinct = sorted(set(released))
    for original in ["2011-03-07 10:15:00", "a", "12345", "France", "Germany", "2011-04-01"]:
        want = [k for k, u in enumerate(distinct) if consistent(u, original)]
        assert column.matching(original).tolist() == want


def test_progress_counts_the_targets() -> None:
    table = pacsv.read_csv(SAMPLE)
    seen: list[tuple[int, int]] = []
    result = linkage_attack(
        table, table, LinkageConfig(("StockCode",)), progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (result.targets, result.targets)
