"""``shopveil anonymize`` on hostile or broken input: one line, exit 2, nothing lost.

Each test feeds the input that once printed a traceback, lost every row silently or
left a file behind, through the real CLI (typer's runner) and the real files.
"""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopveil.data import _sink, read_table, write_table
from shopveil.errors import SinkError

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
PREVIOUS = "order_id,quantity\nprevious,1\n"


def _anonymize(source: Path, output: Path, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["anonymize", str(source), "-o", str(output), *extra])
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(code: int, stderr: str) -> str:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def _orders(tmp_path: Path, header: str, row: str = "1,2") -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(f"{header}\n{row}\n{row}\n")
    return path


def _previous_output(tmp_path: Path) -> Path:
    output = tmp_path / "out.csv"
    output.write_text(PREVIOUS)
    return output


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("email,email", "'email' appears twice"),
        ("order_id, ,quantity", "column 2 has an empty name"),
        ("order_id,,quantity", "column 2 has an empty name"),
    ],
)
def test_a_bad_header_is_one_line_and_keeps_the_previous_output(
    tmp_path: Path, header: str, expected: str
) -> None:
    source = _orders(tmp_path, header, ",".join(["a@example.com"] * len(header.split(","))))
    output = _previous_output(tmp_path)
    code, _, stderr = _anonymize(source, output, "--policy", "gdpr")
    line = _one_line_error(code, stderr)
    assert expected in line and "orders.csv" in line
    assert "a@example.com" not in stderr
    assert output.read_text() == PREVIOUS


def test_a_parquet_table_with_a_duplicate_column_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "orders.parquet"
    pq.write_table(pa.table([pa.array(["1"]), pa.array(["2"])], names=["id", "id"]), source)
    output = _previous_output(tmp_path)
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "'id' appears twice" in line
    assert output.read_text() == PREVIOUS


def test_a_field_over_128_kb_is_read_whole(tmp_path: Path) -> None:
    # Python's csv module stops at 128 KB: locating a bad row once died on such a field.
    long_value = "word " * 40_000  # 200 KB
    source = tmp_path / "orders.csv"
    source.write_text(f'order_id,quantity\n"{long_value}",1\nb,2\n')
    code, _, stderr = _anonymize(source, tmp_path / "out.parquet", "--policy", "gdpr")
    assert code == 0, stderr
    table = read_table(tmp_path / "out.parquet")
    assert table.column("quantity").to_pylist() == [1, 2]  # a kept number stays a number


def test_a_row_over_the_limit_with_a_broken_row_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text('order_id,quantity\n"' + "x" * 200_000 + '",1\nb,2,3\n')
    output = _previous_output(tmp_path)
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "orders.csv" in line and "line" in line
    assert "xxxx" not in line
    assert output.read_text() == PREVIOUS


def test_a_row_longer_than_an_arrow_block_names_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    with source.open("w") as handle:
        handle.write('order_id,quantity\n"')
        handle.write("x" * (9 << 20))  # 9 MiB in one field
        handle.write('",1\n')
    output = _previous_output(tmp_path)
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "MiB limit" in line and "orders.csv" in line
    assert output.read_text() == PREVIOUS


class _FullDisk:
    """A file object whose every write fails as a full disk does."""

    closed = False

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return 0


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_full_disk_is_one_line_and_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    source = _orders(tmp_path, "order_id,quantity")
    output = tmp_path / f"out.{suffix}"
    write_table(pa.table({"order_id": ["previous"]}), output)
    before = output.read_bytes()
    monkeypatch.setattr(_sink, "_open_sink", lambda tmp: pa.PythonFile(_FullDisk(), mode="w"))
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "No space left on device" in line and f"out.{suffix}" in line
    assert output.read_bytes() == before
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "config")  # the key's folder
    assert names == sorted(["orders.csv", output.name, "home"])


def test_a_full_disk_in_the_library_raises_sink_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sink, "_open_sink", lambda tmp: pa.PythonFile(_FullDisk(), mode="w"))
    with pytest.raises(SinkError, match="No space left"):
        write_table(pa.table({"a": ["1"] * 100_000}), tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_files_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    source = _orders(tmp_path, "order_id,quantity")
    # What a killed run leaves: ShopVeil's own partial files, beside this and another output.
    stale = [
        tmp_path / ".out.csv.shopveil-k1ll3d_0.partial",
        tmp_path / ".b.csv.shopveil-abcdefgh.partial",
    ]
    for path in stale:
        path.write_text("half a file")
    foreign = tmp_path / ".download.partial"
    foreign.write_text("someone else's")
    code, _, stderr = _anonymize(source, tmp_path / "out.csv", "--policy", "gdpr")
    assert code == 0, stderr
    assert not any(path.exists() for path in stale)
    assert foreign.exists()


def test_a_partial_file_another_writer_holds_is_not_swept(tmp_path: Path) -> None:
    output = tmp_path / "a.csv"
    with _sink.writing_batches(output, pa.schema([("x", pa.string())])) as write:
        write(pa.record_batch([pa.array(["1"])], names=["x"]))
        (live,) = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
        write_table(pa.table({"y": ["2"]}), tmp_path / "b.csv")  # sweeps the folder
        assert live.exists()
    assert read_table(output).column("x").to_pylist() == ["1"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize("escape", [True, False])
def test_csv_output_escapes_formulas_unless_told_not_to(tmp_path: Path, escape: bool) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "order_id,=quantity\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",-5\n'
        "@SUM(A1),+3.5\n"
        "-2+3+cmd|' /C calc'!A0,-1e3\n"
        '"\tleading tab",7\n'
    )
    output = tmp_path / "out.csv"
    code, _, stderr = _anonymize(
        source, output, "--policy", "gdpr", *([] if escape else ["--no-csv-escape"])
    )
    assert code == 0, stderr
    table = read_table(output)
    quote = "'" if escape else ""
    assert table.column_names == ["order_id", f"{quote}=quantity"]
    assert table.column(0).to_pylist() == [
        f'{quote}=HYPERLINK("http://evil.example","x")',
        f"{quote}@SUM(A1)",
        f"{quote}-2+3+cmd|' /C calc'!A0",
        f"{quote}\tleading tab",
    ]
    # Numbers are values, not formulas: never changed.
    assert table.column(1).to_pylist() == ["-5", "+3.5", "-1e3", "7"]


def test_a_parquet_struct_column_named_like_an_id_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "people.parquet"
    contact = pa.array([{"name": "Ada Lovelace", "email": "ada@example.com"}] * 30)
    pq.write_table(pa.table({"contact": contact, "quantity": list(range(30))}), source)
    output = _previous_output(tmp_path)
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "'contact'" in line
    assert "ada" not in line.lower()
    assert output.read_text() == PREVIOUS


def test_a_bad_value_batches_into_a_parquet_file_writes_nothing(tmp_path: Path) -> None:
    # Batches are read ahead and written behind the one being protected: a failure in a
    # later batch must still leave no output and no partial file.
    rows = 200_000
    dates = ["2011-03-04 10:15:00"] * rows
    dates[150_000] = "soon"
    source = tmp_path / "orders.parquet"
    ids = [f"C{i % 5_000}" for i in range(rows)]
    pq.write_table(pa.table({"customer_id": ids, "order_time": dates}), source)
    output = tmp_path / "out.parquet"
    line = _one_line_error(*_anonymize(source, output, "--policy", "gdpr")[::2])
    assert "'order_time': 1 of 65536 values are not dates" in line
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "config")
    assert names == sorted(["orders.parquet", "home"])
