"""``shopveil synth`` end to end on a real SQLite workspace."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

from shopveil.data import read_table

runner = CliRunner()


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    rows = ["email,country,age,tier"]
    countries = ["France", "Germany", "Spain"]
    rows += [
        f"c{i}@shop.example,{countries[i % 3]},{18 + i % 60},{'gold' if i % 3 else 'basic'}"
        for i in range(1500)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_synth_writes_a_table_without_identifiers_and_charges_once(
    customers: Path, tmp_path: Path
) -> None:
    out = tmp_path / "synthetic.parquet"
    args = ["synth", str(customers), "-o", str(out), "--epsilon", "1", "--bounds", "age=18:80"]
    result = runner.invoke(app, [*args, "--json", "--request-id", "s1", "--report"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["report"]["marginal_error"]) == {"1-way", "2-way", "3-way"}
    assert 0 < summary["report"]["marginal_error"]["3-way"] < 1
    assert summary["dataset"] == "customers"
    assert summary["dropped"] == {"email": "direct identifier (scan: email)"}
    table = read_table(out)
    assert table.column_names == ["country", "age", "tier"]
    assert table.schema.field("age").type == "int64"
    assert all(18 <= a <= 80 for a in table.column("age").drop_null().to_pylist())
    again = runner.invoke(app, [*args, "--request-id", "s1"])
    assert again.exit_code == 1
    assert again.stderr.startswith("error: request id 's1' already paid")


def test_synth_with_aim_prints_the_marginals_it_measured(customers: Path, tmp_path: Path) -> None:
    out = tmp_path / "synthetic.csv"
    args = ["synth", str(customers), "-o", str(out), "--epsilon", "1", "--bounds", "age=18:80"]
    result = runner.invoke(app, [*args, "--method", "aim"])
    assert result.exit_code == 0, result.output
    assert "marginals measured beyond 1-way: " in result.stdout
    measured = result.stdout.split("marginals measured beyond 1-way: ")[1].splitlines()[0]
    assert measured != "none"
    assert all(set(m.split("-")) <= {"country", "age", "tier"} for m in measured.split(", "))
    assert read_table(out).column_names == ["country", "age", "tier"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--delta", "0"], "delta > 0"),
        (["--bounds", "country=0:1"], "--bounds country: the column holds values"),
        (["--bounds", "age=18:80", "--method", "bayes"], "--method must be one of mst, aim"),
        (["--bounds", "age=18:80", "--policy", "gdpr", "--purpose", "marketing"], "marketing"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    customers: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "synthetic.csv"
    result = runner.invoke(app, ["synth", str(customers), "-o", str(out), "--epsilon", "1", *extra])
    assert result.exit_code in (1, 2), result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert not out.exists()
