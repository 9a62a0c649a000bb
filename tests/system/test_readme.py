"""The README's Python example runs as written."""

from __future__ import annotations

import re
import shlex
import warnings
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shopveil import read_table

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {})
    before = read_table(tmp_path / "customers.parquet")
    after = read_table(tmp_path / "customers.safe.parquet")
    assert after.num_rows == before.num_rows
    assert "email" not in after.column_names
    assert not set(before.column("customer_id").to_pylist()) & set(
        after.column("customer_id").to_pylist()
    )


@pytest.mark.filterwarnings("ignore::shopveil.learn.NoSignalWarning")
def test_the_readme_personalization_example_runs_and_charges_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2, "the README has no personalization example"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[1], str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert "'recall@20_new'" in printed[0]
    assert printed[1] == "ε=1, δ=1e-06"


# The README's command-line lines an analyst runs one after the other on one shop.
_ANALYST = ("data", "query", "budget", "train", "recommend", "evaluate")


def _readme_commands() -> list[list[str]]:
    found = re.search(r"```sh\n(shopveil scan.*?)```", README.read_text(), flags=re.DOTALL)
    assert found, "the README has no command-line block"
    lines = found.group(1).replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines]
    return [c[1:] for c in commands if c[:1] == ["shopveil"] and c[1] in _ANALYST]


@pytest.mark.slow
def test_the_readme_analyst_commands_run_as_written_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopveil.data import bundled_online_retail, product_catalogue, write_table

    commands = _readme_commands()
    assert [c[0] for c in commands] == [
        "data", "query", "budget", "train", "recommend", "evaluate", "evaluate"
    ]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    orders = bundled_online_retail()
    earlier = pc.less(orders["InvoiceDate"], pa.scalar(datetime(2010, 12, 9)))
    write_table(orders, "orders.csv")
    write_table(orders.filter(earlier), "earlier.csv")
    write_table(orders.filter(pc.invert(earlier)), "later.csv")
    write_table(product_catalogue(), "catalogue.csv")
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert "WHITE HANGING HEART" in runner.invoke(app, commands[4]).stdout  # recommend
