"""``shopveil redact-text`` on CSV, Parquet and JSONL; bad input leaves nothing behind."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CHATS = [
    ("c1", "Hi, this is Mr. Tilly Nicholson, card 4111 1111 1111 1111"),
    ("c1", "Mr. Tilly Nicholson again, mail tilly@example.org"),
    ("c2", "Ship to 1668 Glyn St, SSN 460-89-9847"),
]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["redact-text", *args, "--engine", "rules"])
    return result.exit_code, result.output


def _clean(texts: list[str]) -> None:
    joined = " ".join(texts)
    for secret in ("Nicholson", "4111", "tilly@example.org", "Glyn", "460-89-9847"):
        assert secret not in joined


def test_csv_and_parquet(tmp_path: Path) -> None:
    table = pa.table({"conv": [c for c, _ in CHATS], "chat": [t for _, t in CHATS]})
    pq.write_table(table, tmp_path / "in.parquet")
    code, output = _run(str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.parquet"),
                        "--field", "chat", "--conversation", "conv")  # fmt: skip
    assert code == 0, output
    out = pq.read_table(tmp_path / "out.parquet")
    chats = out.column("chat").to_pylist()
    _clean(chats)
    assert out.column("conv").to_pylist() == ["c1", "c1", "c2"]
    # one person, one fake, within the conversation
    assert chats[0].split(",")[1].removeprefix(" this is ") == chats[1].split(" again")[0]
    (tmp_path / "in.csv").write_text(
        "conv,chat\n" + "".join(f'{c},"{t}"\n' for c, t in CHATS), encoding="utf-8"
    )
    code, output = _run(str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
                        "--policy", "label")  # fmt: skip
    assert code == 0, output
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    _clean([text])
    assert "[card_number]" in text and "[street_address]" in text


def test_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps({"text": t, "conv": c, "n": i}) for i, (c, t) in enumerate(CHATS)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = _run(str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                        "--policy", "mask")  # fmt: skip
    assert code == 0, output
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["n"] for r in records] == [0, 1, 2]
    _clean([r["text"] for r in records])
    assert "**** **** **** ****" in records[0]["text"]


@pytest.mark.parametrize("name", ["in.csv", "in.jsonl"])
def test_non_utf8_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, name: str) -> None:
    body = b"chat\ncaf\xe9 with Mr. Tilly Nicholson\n"
    if name.endswith(".jsonl"):
        body = b'{"text": "caf\xe9 with Mr. Tilly Nicholson"}\n'
    (tmp_path / name).write_bytes(body)
    out = tmp_path / ("out" + name[2:])
    code, output = _run(str(tmp_path / name), "-o", str(out))
    assert code == 2
    assert output.strip().count("\n") == 0 and "not UTF-8" in output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_bad_options_exit_2(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("chat\nhello\n", encoding="utf-8")
    code, output = _run(str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--policy", "x")
    assert code == 2 and "--policy='x'" in output
    code, output = _run(str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv"), "--field", "nope")
    assert code == 2 and "'nope'" in output
    assert not (tmp_path / "o.csv").exists()
