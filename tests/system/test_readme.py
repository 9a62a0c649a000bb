"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shopveil import read_table

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
