"""Fuzzing the readers and the policy loader: a clean ShopVeilError or correct output.

Whatever bytes a CSV or Parquet file holds and whatever text a policy holds, ShopVeil
either reads them right or raises one of its own errors (one line on the CLI), never a
traceback from a library underneath.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil.data import read_table
from shopveil.errors import ShopVeilError
from shopveil.policy import Policy, parse_policy

# The temp folder is shared by every example; each example overwrites its one file.
_SHARED = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

_CSV_CHARS = st.sampled_from(list('ab1=-,;|\t" \n\r\x00é'))


@_SHARED
@given(st.lists(_CSV_CHARS, max_size=80).map("".join))
def test_any_csv_text_reads_or_fails_cleanly(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text(text, encoding="utf-8")
    try:
        table = read_table(path)
    except ShopVeilError:
        return
    assert isinstance(table, pa.Table)


@_SHARED
@given(st.binary(max_size=120))
def test_any_csv_bytes_read_or_fail_cleanly(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    with contextlib.suppress(ShopVeilError):
        read_table(path)


_NAMES = st.text(st.sampled_from(list("abcxyz_")), min_size=1, max_size=6)
_CELLS = st.text(st.sampled_from(list('ab 1-=."\n')), max_size=8)


@_SHARED
@given(
    st.lists(_NAMES, min_size=1, max_size=4, unique=True).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.lists(st.lists(_CELLS, min_size=len(names), max_size=len(names)), max_size=6),
        )
    )
)
def test_well_formed_csv_reads_back_exactly(
    tmp_path: Path, table: tuple[list[str], list[list[str]]]
) -> None:
    names, rows = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    path = tmp_path / "fuzz.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    read = read_table(path)
    assert read.column_names == names
    # Every column is text; an empty cell reads as null.
    got = [[read.column(n)[i].as_py() or "" for n in names] for i in range(read.num_rows)]
    assert got == rows


@pytest.fixture(scope="module")
def parquet_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("pq") / "good.parquet"
    pq.write_table(pa.table({"id": ["1", "2", "3"], "n": [1, 2, 3]}), path)
    return path.read_bytes()


@_SHARED
@given(cut=st.integers(min_value=0, max_value=2_000), flips=st.lists(st.integers(0, 2_000)))
def test_damaged_parquet_reads_or_fails_cleanly(
    tmp_path: Path, parquet_bytes: bytes, cut: int, flips: list[int]
) -> None:
    data = bytearray(parquet_bytes[: max(cut, 1)] if cut < len(parquet_bytes) else parquet_bytes)
    for position in flips:
        data[position % len(data)] ^= 0x5A
    path = tmp_path / "fuzz.parquet"
    path.write_bytes(bytes(data))
    with contextlib.suppress(ShopVeilError):
        read_table(path)


def test_a_damaged_level_histogram_is_refused_not_an_abort(
    tmp_path: Path, parquet_bytes: bytes
) -> None:
    """One flipped byte in the footer's size statistics: Arrow aborted the process when
    the chunk's metadata was asked for directly; the read refuses the file instead."""
    data = bytearray(parquet_bytes)
    data[208] ^= 0x5A
    path = tmp_path / "histogram.parquet"
    path.write_bytes(bytes(data))
    with pytest.raises(ShopVeilError, match="cannot read it as Parquet"):
        read_table(path)


_YAML_CHARS = st.sampled_from(list("abk: -[]{}\n'\"!&*#%@`|>1.e,?"))
_KEYS = st.sampled_from(
    [
        "shopveil_policy", "name", "extends", "purposes", "roles", "rules", "columns",
        "requirements", "gates", "dp", "release_modes", "sees", "when", "technique",
        "params", "class", "kind", "k", "l", "t", "bounds", "default_budget", "epsilon",
        "record", "analytics", "gdpr", "email", "drop", "keep",
    ]
)  # fmt: skip
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), _KEYS)
_DOCS = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@_SHARED
@given(st.lists(_YAML_CHARS, max_size=60).map("".join))
def test_any_policy_text_loads_or_fails_cleanly(text: str) -> None:
    try:
        policy = parse_policy(text)
    except ShopVeilError:
        return
    assert isinstance(policy, Policy)


@_SHARED
@given(st.dictionaries(_KEYS, _DOCS, max_size=6))
def test_any_policy_structure_loads_or_fails_cleanly(document: dict[str, object]) -> None:
    text = yaml.safe_dump({"shopveil_policy": 1, "name": "fuzz", **document})
    try:
        policy = parse_policy(text)
    except ShopVeilError:
        return
    assert isinstance(policy, Policy)
