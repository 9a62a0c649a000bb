"""Codes stored in narrow types give the answers 64-bit codes give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shopveil.anonymity import (
    KAnonymity,
    LDiversity,
    _encode,
    anonymize_lattice,
    anonymize_mondrian,
    assess,
)
from shopveil.anonymity._encode import encode_column


def _table(n: int = 6_000) -> pa.Table:
    rng = np.random.default_rng(7)  # test data, not a privacy mechanism
    return pa.table(
        {
            "postcode": rng.integers(0, 70_000, n),  # over 65,536 values: uint32 codes
            "city": [f"city {i}" for i in rng.integers(0, 300, n)],  # uint16 codes
            "age": rng.integers(18, 90, n),  # uint8 codes
            "product": [f"p{i}" for i in rng.integers(0, 400, n)],  # a wide sensitive
        }
    )


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (list(range(256)), np.uint8),
        (list(range(257)), np.uint16),
        ([str(i) for i in range(70_000)], np.uint32),
        ([f"v{i}" for i in range(256)] + [None], np.uint16),  # null is a value too
    ],
)
def test_codes_take_the_narrowest_type_that_holds_them(values: list, dtype: type) -> None:
    column = encode_column(pa.table({"c": values}), "c")
    assert column.codes.dtype == dtype
    assert int(column.codes.max()) == column.cardinality - 1


def _wide(codes: np.ndarray, cardinality: int) -> np.ndarray:
    return codes.astype(np.int64)


def _results(table: pa.Table) -> list[object]:
    qi = ["postcode", "city", "age"]
    mondrian = anonymize_mondrian(
        table,
        qi,
        [KAnonymity(5), LDiversity(2)],
        sensitive=["product"],
        rng=np.random.default_rng(1),
    )
    lattice = anonymize_lattice(
        table, ["city", "age"], None, [KAnonymity(3)], 0.05, sensitive=["product"],
        rng=np.random.default_rng(1),
    )  # fmt: skip
    report = assess(table, qi, ["product"])
    return [mondrian.table, mondrian.utility, lattice.table, lattice.utility, report.to_dict()]


def test_narrow_codes_release_what_64_bit_codes_release(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table()
    narrow = _results(table)
    monkeypatch.setattr(_encode, "narrow_codes", _wide)
    wide = _results(table)
    for ours, theirs in zip(narrow, wide, strict=True):
        if isinstance(ours, pa.Table):
            assert ours.equals(theirs)
        else:
            assert repr(ours) == repr(theirs)


def test_wide_codes_still_make_k_anonymous_classes() -> None:
    table = _table()
    released = anonymize_mondrian(table, ["postcode", "city", "age"], [KAnonymity(5)]).table
    sizes = released.to_pandas().groupby(["postcode", "city", "age"]).size()
    assert int(sizes.min()) >= 5
    assert isinstance(sizes, pd.Series) and int(sizes.sum()) == table.num_rows
