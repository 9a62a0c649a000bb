"""What an error message tells the analyst to type runs as written.

Each test provokes an error, takes the command or the SQL the message suggests, and runs
it: it must succeed. Suggestions with placeholders (``PATH``, ``LOW:HIGH``) are run with
the placeholders filled in.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import warnings
from pathlib import Path

import pytest

from shopveil.dp import table_name

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()

_ROWS = ["CustomerID,Country,Quantity"] + [
    f"{1000 + i % 50},{('France', 'Germany')[i % 2]},{1 + i % 5}" for i in range(400)
]


def _write(path: Path, rows: list[str] = _ROWS) -> Path:
    text = "\n".join(rows) + "\n"
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _fails(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _runs(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _command(message: str) -> list[str]:
    """The ``shopveil ...`` command quoted in backticks in ``message``, as arguments."""
    found = re.search(r"`shopveil ([^`]+)`", message)
    assert found is not None, message
    return shlex.split(found.group(1))


@pytest.mark.parametrize(
    ("file_name", "table"),
    [
        ("online_retail_2010-12_2011-09.csv.gz", "online_retail_2010_12_2011_09"),
        ("2011 sales.csv", "_2011_sales"),
        ("ventes-été.v2.csv", "ventes__t_"),
        ("orders.csv", "orders"),
        ("order.csv", "order"),
    ],
)
def test_the_default_table_name_is_one_a_query_can_write(
    tmp_path: Path, file_name: str, table: str
) -> None:
    path = _write(tmp_path / file_name)
    assert table_name(path) == table
    query = ["--data", str(path), "--epsilon", "0.01", "--privacy-unit", "CustomerID"]
    message = _fails(["query", "SELECT COUNT(*) FROM retail", *query])
    found = re.search(r"write FROM (.+) or pass (--table .+)$", message)
    assert found is not None, message
    _runs(["query", f"SELECT COUNT(*) FROM {found.group(1)}", *query])
    _runs(["query", "SELECT COUNT(*) FROM retail", *query, *shlex.split(found.group(2))])


def test_a_registered_name_that_is_not_a_plain_word_is_suggested_quoted(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv")
    _runs(["data", "add", "orders-2011", str(path), "--unit", "CustomerID"])
    query = ["--data", "orders-2011", "--epsilon", "0.01"]
    message = _fails(["query", "SELECT COUNT(*) FROM orders", *query])
    sql = re.search(r"write (FROM \S+)", message)
    assert sql is not None and sql.group(1) == 'FROM "orders-2011"', message
    _runs(["query", f"SELECT COUNT(*) {sql.group(1)}", *query])


def test_the_privacy_unit_suggestion_quotes_a_column_name_with_a_space(tmp_path: Path) -> None:
    rows = ["Customer ID,Country", *(f"{1000 + i % 30},France" for i in range(100))]
    path = _write(tmp_path / "people.csv", rows)
    query = ["query", "SELECT COUNT(*) FROM people", "--data", str(path), "--epsilon", "0.01"]
    message = _fails(query)
    found = re.search(r"pass (--privacy-unit ('[^']+'|\S+)),", message)
    assert found is not None and found.group(2) == "'Customer ID'", message
    _runs([*query, *shlex.split(found.group(1))])


def test_the_bounds_suggestion_runs_with_a_quoted_alias(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv")
    # A row cap given: the bounds are the analyst's to give too (else they are chosen).
    query = ["query", 'SELECT SUM(Quantity) AS "units sold" FROM orders', "--data", str(path),
             "--epsilon", "0.01", "--privacy-unit", "CustomerID",
             "--max-contributions", "5"]  # fmt: skip
    message = _fails(query)
    found = re.search(r"pass (--bounds (?:'[^']+'|\S+)), or", message)
    assert found is not None, message
    _runs([*query, *shlex.split(found.group(1).replace("LOW:HIGH", "0:5"))])


def test_the_delta_suggestion_runs(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv")
    query = ["query", "SELECT Country, COUNT(*) FROM orders GROUP BY Country", "--data",
             str(path), "--epsilon", "0.1", "--privacy-unit", "CustomerID"]  # fmt: skip
    message = _fails([*query, "--delta", "0"])
    found = re.search(r"pass e\.g\. (--delta \S+),", message)
    assert found is not None, message
    _runs([*query, *shlex.split(found.group(1))])


@pytest.mark.parametrize("unit", [["--privacy-unit", "CustomerID"], []])
def test_the_default_budget_note_names_a_command_that_sets_it(
    tmp_path: Path, unit: list[str]
) -> None:
    rows = ["InvoiceNo,Quantity", *(f"{i},{1 + i % 5}" for i in range(100))] if not unit else _ROWS
    path = _write(tmp_path / "orders-2011.csv", rows)
    out = _runs(["query", "SELECT COUNT(*) FROM orders_2011", "--data", str(path),
                 "--epsilon", "0.01", *unit])  # fmt: skip
    _runs(_command(out))
    again = _runs(["query", "SELECT COUNT(*) FROM orders_2011", "--data", str(path),
                   "--epsilon", "0.01", *unit])  # fmt: skip
    assert "default budget" not in again


def test_the_registered_unit_suggestion_runs(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv")
    _runs(["data", "add", "orders", str(path), "--unit", "CustomerID"])
    query = ["query", "SELECT COUNT(*) FROM orders", "--data", "orders", "--epsilon", "0.01"]
    message = _fails([*query, "--privacy-unit", "Country"])
    found = re.search(r"pass (--privacy-unit \S+)$", message)
    assert found is not None, message
    _runs([*query, *shlex.split(found.group(1))])


def test_the_catalog_suggestions_run(tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv")
    unknown = _fails(["data", "show", "orders"])
    add = [a.replace("PATH", str(path)).replace("COLUMN", "CustomerID") for a in _command(unknown)]
    _runs(add)
    again = _fails(add)
    _runs(_command(again))  # data remove orders
    _runs(add)


def test_the_id_type_suggestion_runs(tmp_path: Path) -> None:
    rows = ["CustomerID,Country", *(f"{1000 + i},France" for i in range(20)), "AB12,France"]
    path = _write(tmp_path / "mixed.csv", rows)
    add = ["data", "add", "mixed", str(path), "--unit", "CustomerID"]
    message = _fails(add)
    found = re.search(r"or (--id-type \S+) so", message)
    assert found is not None, message
    out = _runs([*add, *shlex.split(found.group(1))])
    assert "registered mixed" in out
    shown = json.loads(_runs(["data", "show", "mixed", "--json"]))
    assert shown["people"] == 21
