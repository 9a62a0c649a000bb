"""A release keeps its columns' types: numbers stay numbers, dates stay dates.

A CSV is read as text; the columns a policy keeps as they are come out as the numbers,
dates, timestamps and booleans they hold: typed in Parquet, unquoted in CSV. Columns a
technique turns into text (tokens, generalized dates) stay text.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from shopveil.data import TextTypes, apply_types

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()

POLICY = """\
shopveil_policy: 1
name: keep-types
extends: gdpr
columns:
  day: {class: other, technique: keep}
  at: {class: other, technique: keep}
  signup: {class: quasi_identifier, technique: generalize_date}
"""


def _table(rows: int = 40) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"{1000 + i}" for i in range(rows)],
            "qty": pa.array([i % 7 - 2 for i in range(rows)], pa.int64()),
            "price": [1.25 + i / 4 for i in range(rows)],
            "day": [dt.date(2011, 1, 1 + i % 28) for i in range(rows)],
            "at": [dt.datetime(2011, 1, 1, 8, i % 60) for i in range(rows)],
            "signup": [dt.date(2010, 1 + i % 12, 3) for i in range(rows)],
            "opted": [i % 3 == 0 for i in range(rows)],
            "code": [f"{i:05d}" for i in range(rows)],  # leading zeros: a code, not a number
            "country": [("France", "Germany")[i % 2] for i in range(rows)],
        }
    )


def _anonymize(source: Path, output: Path, *extra: str) -> None:
    result = runner.invoke(
        app,
        ["anonymize", str(source), "-o", str(output), "--policy", str(source.parent / "p.yaml"),
         *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.fixture
def source(tmp_path: Path) -> Path:
    (tmp_path / "p.yaml").write_text(POLICY)
    path = tmp_path / "orders.csv"
    pacsv.write_csv(_table(), path)
    return path


def test_a_csv_round_trip_to_parquet_keeps_numbers_dates_and_booleans(
    source: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.parquet"
    _anonymize(source, output)
    schema = pq.read_schema(output)
    expected = _table()
    for name in ("qty", "price", "day", "opted"):
        assert schema.field(name).type == expected.schema.field(name).type, name
    assert schema.field("at").type == pa.timestamp("us")  # written with microseconds
    assert schema.field("code").type == pa.string()
    assert schema.field("customer_id").type == pa.string()  # a token now
    assert schema.field("signup").type == pa.string()  # generalized into text: "2010-01"
    released = pq.read_table(output)
    for name in ("qty", "price", "day", "at", "opted", "code", "country"):
        assert released.column(name).to_pylist() == expected.column(name).to_pylist(), name


def test_a_csv_round_trip_to_csv_writes_numbers_unquoted(source: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    _anonymize(source, output)

    def cells(path: Path) -> list[dict[str, str]]:
        header, *rows = path.read_text().splitlines()
        names = header.replace('"', "").split(",")
        return [dict(zip(names, row.split(","), strict=True)) for row in rows]

    for before, after in zip(cells(source), cells(output), strict=True):
        for name in ("qty", "price", "day", "at", "opted"):
            assert after[name] == before[name].strip('"'), name  # the same text, unquoted
        assert after["code"] == before["code"]  # text, quoted as before
    first = cells(output)[0]
    assert first["qty"] == "-2" and first["price"] == "1.25" and first["day"] == "2011-01-01"
    assert first["at"] == "2011-01-01 08:00:00.000000" and first["opted"] == "true"
    assert first["code"] == '"00000"' and first["country"] == '"France"'
    back = pacsv.read_csv(output)
    assert back.column("qty").to_pylist() == _table().column("qty").to_pylist()


def test_parquet_in_keeps_its_own_types(source: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "orders.parquet"
    pq.write_table(_table(), parquet)
    output = tmp_path / "out.parquet"
    _anonymize(parquet, output)
    schema = pq.read_schema(output)
    assert schema.field("qty").type == pa.int64() and schema.field("at").type == pa.timestamp("us")


def test_k_anonymity_keeps_the_types_of_columns_it_leaves_alone(
    source: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.parquet"
    _anonymize(source, output, "--k", "2", "--qi", "country")
    schema = pq.read_schema(output)
    assert schema.field("qty").type == pa.int64() and schema.field("price").type == pa.float64()


def test_one_value_that_is_not_a_number_keeps_its_column_text() -> None:
    found = TextTypes(["n", "z", "d"])
    found.update(pa.record_batch({"n": ["1", "2"], "z": ["1", "2"], "d": ["2011-02-28", None]}))
    found.update(pa.record_batch({"n": ["3", "n/a"], "z": ["1", "007"], "d": ["2011-02-30", "x"]}))
    assert found.types() == {}
    typed = apply_types(pa.table({"n": ["1", "-2"]}), {"n": pa.int64()})
    assert typed.column("n").to_pylist() == [1, -2]


def test_opted_out_rows_do_not_decide_a_columns_type(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "shopveil_policy: 1\nname: p\nextends: ccpa\ncolumns:\n"
        "  note: {class: other, technique: keep}\n"
    )
    source = tmp_path / "customers.csv"
    source.write_text(
        "customer_id,opted_out_of_sale,note\n1001,false,5\n1002,true,not a number\n1003,false,7\n"
    )
    output = tmp_path / "out.parquet"
    _anonymize(source, output, "--purpose", "marketing")
    released = pq.read_table(output)
    assert released.num_rows == 2 and released.column("note").to_pylist() == [5, 7]
