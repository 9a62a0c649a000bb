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
