"""``anonymize --k`` over a memory budget: only what k-anonymity reads stays in memory.

Past the budget the other protected columns are read and protected a second time while
the output is written; the file must be the one a single pass writes, row for row.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopveil.data import read_table
from shopveil.errors import ParameterError
from shopveil.pipeline import k_anonymize_file

ROWS = 150_000  # three batches of the Parquet reader
# CCPA's opt-out column, honoured by a purpose that may release tables.
POLICY = """\
shopveil_policy: 1
name: orders
extends: ccpa
purposes:
  analytics:
    release_modes: [record, table]
    honours_opt_out: true
"""


def _orders(tmp_path: Path) -> Path:
    countries = ["France", "Germany", "Spain", "Italy", "Portugal", "Austria"]
    path = tmp_path / "orders.parquet"
    table = pa.table(
        {
            "line": [f"L{i:06d}" for i in range(ROWS)],
            "customer_id": [f"C{(i * 7919) % 20_000}" for i in range(ROWS)],
            "email": [f"person{i % 20_000}@example.com" for i in range(ROWS)],
            # Every 9,001st customer is alone in their class: lattice suppresses them.
            "age": ["104" if i % 9_001 == 5 else str(18 + (i * 31) % 70) for i in range(ROWS)],
            "country": [
                f"Island {i}" if i % 9_001 == 5 else countries[(i * 13) % 6] for i in range(ROWS)
            ],
            "quantity": [str(i % 9) for i in range(ROWS)],
            "opted_out_of_sale": ["true" if i % 7 == 3 else "false" for i in range(ROWS)],
        }
    )
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(("method", "suppress"), [("mondrian", 0.0), ("lattice", 0.02)])
def test_over_the_budget_the_file_is_the_one_pass_file(
    tmp_path: Path, method: str, suppress: float
) -> None:
    source = _orders(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    runs = {}
    for name, budget in [("held", 1 << 30), ("streamed", 0)]:
        output = tmp_path / f"{name}.parquet"
        runs[name] = k_anonymize_file(
            source, output, k=5, qi=["age", "country"], sensitive=["quantity"],
            policy=policy, method=method, suppress=suppress,
            memory_budget=budget,
        )  # fmt: skip
    held, streamed = (
        read_table(tmp_path / "held.parquet"),
        read_table(tmp_path / "streamed.parquet"),
    )
    assert streamed.equals(held)
    assert runs["streamed"].anonymized.table.equals(runs["held"].anonymized.table)
    assert runs["streamed"].anonymized.table.column_names == ["age", "country", "quantity"]

    # Each released row is its own source row: its line, its generalized values.
    original = read_table(source).to_pandas().set_index("line")
    out = streamed.to_pandas().set_index("line")
    opted_out = original["opted_out_of_sale"] == "true"
    utility = runs["streamed"].anonymized.utility
    assert utility.suppressed_rows > 0 if suppress else utility.suppressed_rows == 0
    assert len(out) == ROWS - int(opted_out.sum()) - utility.suppressed_rows
    assert not set(out.index) & set(original.index[opted_out])
    assert list(out.index) == sorted(out.index)  # the original order
    here = original.loc[out.index]
    assert (out["quantity"] == here["quantity"]).all()
    # No pseudonym or fake address links a person's rows past k.
    assert "customer_id" not in out.columns and "email" not in out.columns
    assert any("customer_id, email dropped" in note for note in runs["streamed"].plan.notes)
    for generalized, value in zip(out["age"], here["age"], strict=True):
        if generalized.startswith("["):
            low, high = (float(x) for x in generalized.strip("[]").split(", "))
            assert low <= float(value) <= high
        elif generalized != "*":
            assert generalized == value or "-" in generalized
    assert out.groupby(["age", "country"]).size().min() >= 5


def test_a_negative_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="memory_budget"):
        k_anonymize_file(_orders(tmp_path), tmp_path / "o.csv", k=2, qi=["age"], memory_budget=-1)


def test_a_csv_read_twice_keeps_the_types_a_single_pass_finds(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    pq.read_table(_orders(tmp_path)).slice(0, 5_000).to_pandas().to_csv(source, index=False)
    for name, budget in [("held", 1 << 30), ("streamed", 0)]:
        k_anonymize_file(
            source, tmp_path / f"{name}.parquet", k=5, qi=["age", "country"], memory_budget=budget
        )
    held, streamed = (
        read_table(tmp_path / "held.parquet"),
        read_table(tmp_path / "streamed.parquet"),
    )
    assert streamed.equals(held)
    assert streamed.schema.field("quantity").type == pa.int64()  # kept, and typed from text


def test_the_cli_takes_a_budget_in_mib(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
        warnings.simplefilter("ignore", DeprecationWarning)
        from typer.testing import CliRunner

        from shopveil.cli import app
    source = _orders(tmp_path)
    outputs = []
    for budget in ("0", "256"):
        output = tmp_path / f"out-{budget}.parquet"
        args = ["anonymize", str(source), "-o", str(output), "--k", "5", "--qi", "age,country"]
        result = CliRunner().invoke(app, [*args, "--memory-budget", budget])
        assert result.exit_code == 0, result.stderr
        outputs.append(read_table(output))
    assert outputs[0].equals(outputs[1])
    refused = CliRunner().invoke(app, [*args, "--memory-budget", "-1"])
    assert refused.exit_code == 2 and "--memory-budget" in refused.stderr
