"""Record linkage with Bloom-filter encodings: typo tolerance, keys, one-to-one matches."""

from __future__ import annotations

import secrets

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil.data import RetailOptions, generate_retail
from shopveil.errors import ParameterError, SchemaError
from shopveil.pseudo import (
    ClkEncoder,
    add_typos,
    exact_match,
    link_quality,
    link_tables,
    link_test_set,
    match_clks,
)

FIELDS = ("name", "email", "birth_date")
KEY = secrets.token_bytes(32)


@pytest.fixture(scope="module")
def customers() -> pa.Table:
    options = RetailOptions(orders_per_customer=0, sessions_per_customer=0, text=False)
    return generate_retail(600, seed=11, options=options).tables["customers"]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_precision_and_recall_with_ten_percent_typos(customers: pa.Table) -> None:
    test_set = link_test_set(customers, FIELDS, typo_rate=0.1, rng=np.random.default_rng(3))
    assert test_set.typo_rows > 0
    result = link_tables(test_set.left, test_set.right, ClkEncoder(FIELDS), KEY, truth="truth")
    assert result.quality is not None and result.exact_quality is not None
    assert result.quality.precision >= 0.95 and result.quality.recall >= 0.95
    # Exact-match hashing loses the rows with typos; the CLKs find them.
    assert result.exact_quality.recall < result.quality.recall
    assert result.to_dict()["clk"]["recall"] == round(result.quality.recall, 4)  # type: ignore[index]


@given(
    name=st.text("abcdefghijklmnopqrstuvwxyz ", min_size=8, max_size=30), seed=st.integers(0, 999)
)
def test_one_typo_keeps_the_encoding_close(name: str, seed: int) -> None:
    encoder = ClkEncoder(("name",))
    typo = add_typos(name, np.random.default_rng(seed), edits=1)
    clks = encoder.encode(pa.table({"name": [name, typo]}), KEY)
    assert dice(clks[0], clks[1]) >= 0.6


def test_encodings_depend_on_the_secret(customers: pa.Table) -> None:
    encoder = ClkEncoder(FIELDS)
    sample = customers.slice(0, 20)
    same = encoder.encode(sample, KEY)
    assert (same == encoder.encode(sample, KEY)).all()
    other = encoder.encode(sample, secrets.token_bytes(32))
    assert not (same == other).all()
    matches = match_clks(same, other, threshold=0.8)
    assert matches.num_rows == 0  # CLKs under different secrets do not link


def test_matches_are_one_to_one() -> None:
    table = pa.table({"name": ["ann lee", "ann lee", "bob stone"]})
    encoder = ClkEncoder(("name",))
    clks = encoder.encode(table, KEY)
    matches = match_clks(clks, clks, threshold=0.5)
    assert len(set(matches["left_row"].to_pylist())) == matches.num_rows
    assert len(set(matches["right_row"].to_pylist())) == matches.num_rows


def test_nulls_and_empty_values_encode_to_nothing() -> None:
    clks = ClkEncoder(("name",)).encode(pa.table({"name": [None, "", "x"]}), KEY)
    assert not clks[0].any() and not clks[1].any() and clks[2].any()
    assert match_clks(clks[:2], clks[:2]).num_rows == 0


def test_exact_match_baseline(customers: pa.Table) -> None:
    left = customers.slice(0, 50).select(["customer_id", *FIELDS])
    pairs = exact_match(left, left, FIELDS, KEY)
    quality = link_quality(pairs, left["customer_id"], left["customer_id"])
    assert quality.precision == 1.0 and quality.recall == 1.0


def test_bad_input() -> None:
    with pytest.raises(ParameterError, match="fields"):
        ClkEncoder(())
    with pytest.raises(ParameterError, match="bits"):
        ClkEncoder(("name",), bits=100)
    with pytest.raises(SchemaError, match="no column 'email'"):
        ClkEncoder(("email",)).encode(pa.table({"name": ["x"]}), KEY)
    with pytest.raises(ParameterError, match="16 bytes"):
        ClkEncoder(("name",)).encode(pa.table({"name": ["x"]}), b"short")
    with pytest.raises(ParameterError, match="threshold"):
        match_clks(np.zeros((1, 64), bool), np.zeros((1, 64), bool), threshold=0)
    table = pa.table({"name": ["x"], "truth": [1]})
    with pytest.raises(ParameterError, match="truth"):
        link_tables(table, table, ClkEncoder(("name", "truth")), KEY, truth="truth")


def _is_progression(positions: set[int], bits: int) -> bool:
    """Whether the positions are {a + i·b mod bits}: what double hashing always yields."""
    ordered = sorted(positions)
    if len(ordered) < 3:
        return True
    for start in ordered:
        for step in range(1, bits):
            if {(start + i * step) % bits for i in range(len(ordered))} == positions:
                return True
    return False


def test_hardened_clks_show_no_double_hashing_progressions() -> None:
    # The attack: one q-gram's bits form an arithmetic progression under double hashing,
    # which lets an attacker tell q-grams apart by the patterns their bits make.
    one_gram = pa.table({"name": ["a"]})
    unhardened = ClkEncoder(
        ("name",),
        bits=256,
        q=1,
        hashing="double",
        balance=False,
        xor_fold=False,  # type: ignore[arg-type]
    )
    positions = set(np.flatnonzero(unhardened.encode(one_gram, KEY)[0]).tolist())
    assert len(positions) > 2 and _is_progression(positions, 256)
    hardened = ClkEncoder(("name",), bits=256, q=1, balance=False, xor_fold=False)
    positions = set(np.flatnonzero(hardened.encode(one_gram, KEY)[0]).tolist())
    assert len(positions) > 2 and not _is_progression(positions, 256)


def test_balanced_clks_all_weigh_the_same(customers: pa.Table) -> None:
    # Unbalanced, the number of 1-bits grows with the length of the values: a leak.
    sample = customers.slice(0, 40)
    plain = ClkEncoder(FIELDS, balance=False).encode(sample, KEY)
    assert len(set(plain.sum(axis=1).tolist())) > 1
    balanced = ClkEncoder(FIELDS).encode(sample, KEY)
    assert balanced.shape == (40, 1024)  # folded to 512, balanced back to 1024
    assert set(balanced.sum(axis=1).tolist()) == {512}


@pytest.mark.parametrize(
    "options",
    [{}, {"xor_fold": False}, {"hashing": "double", "balance": False, "xor_fold": False}],
    ids=["hardened", "balanced-only", "unhardened"],
)
def test_linkage_quality_holds_with_each_hardening(customers: pa.Table, options: dict) -> None:
    test_set = link_test_set(customers, FIELDS, typo_rate=0.1, rng=np.random.default_rng(3))
    encoder = ClkEncoder(FIELDS, **options)
    result = link_tables(test_set.left, test_set.right, encoder, KEY, truth="truth")
    assert result.quality is not None
    assert result.quality.precision >= 0.95 and result.quality.recall >= 0.95


def test_hardening_options_are_checked() -> None:
    with pytest.raises(ParameterError, match="hashing"):
        ClkEncoder(("name",), hashing="triple")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="multiple of 128"):
        ClkEncoder(("name",), bits=192, xor_fold=True)
    with pytest.raises(ParameterError, match="balance"):
        ClkEncoder(("name",), balance="yes")  # type: ignore[arg-type]
