"""Partial masking, nulling, numeric bins, perturbation, shuffling, hierarchies, postcodes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core import InsecureRandomnessWarning, Kind, insecure_seeded_rng
from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, SchemaError
from shopveil.mask import (
    GeneralizeHierarchy,
    GeneralizeNumber,
    GeneralizePostcode,
    MaskCard,
    MaskEmail,
    Nullify,
    PartialMask,
    Perturb,
    Shuffle,
    shuffle_within,
)
from shopveil.policy import OPERATORS, build_operator

DATA = Path(__file__).resolve().parents[1] / "data" / "adult"


def ctx(column: str = "c") -> OperatorContext:
    return OperatorContext(purpose="analytics", column=column)


def seeded(seed: int = 7) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def test_card_keeps_last_four_and_separators() -> None:
    out = MaskCard().apply(pa.array(["4341 6365 2052 9398", "4611556180009239", None]), ctx())
    assert out.to_pylist() == ["**** **** **** 9398", "************9239", None]


def test_short_values_are_masked_whole() -> None:
    out = PartialMask(keep_first=1, keep_last=2).apply(pa.array(["abc", "abcd"]), ctx())
    assert out.to_pylist() == ["***", "a*cd"]


@given(value=st.text(min_size=1, max_size=30), last=st.integers(0, 6))
def test_partial_mask_keeps_length_and_hides_the_middle(value: str, last: int) -> None:
    out = PartialMask(keep_last=last).apply(pa.array([value]), ctx()).to_pylist()[0]
    assert len(out) == len(value)
    symbols = [i for i, c in enumerate(value) if c.isalnum()]
    shown = symbols[len(symbols) - last :] if len(symbols) > last else []
    for i, c in enumerate(value):
        assert out[i] == (c if i in shown or i not in symbols else "*")


def test_email_keeps_only_its_domain() -> None:
    out = MaskEmail().apply(pa.array(["ann.lee@gmail.com", "not an email", None]), ctx())
    assert out.to_pylist() == ["***@gmail.com", "***", None]
    assert MaskEmail(keep_first=1).apply(pa.array(["bob@x.org"]), ctx())[0].as_py() == "b***@x.org"


def test_nullify_keeps_type_and_length() -> None:
    out = Nullify().apply(pa.array([1, 2, None]), ctx())
    assert out.type == pa.int64() and out.null_count == 3


def test_numbers_to_bins() -> None:
    out = GeneralizeNumber(width=10).apply(pa.array([0, 9.5, 10, -1, None]), ctx())
    assert out.to_pylist() == ["0-9", "0-9", "10-19", "-10--1", None]
    edges = GeneralizeNumber(edges=(0, 18, 65)).apply(pa.array(["17", "18", "70", "-2"]), ctx())
    assert edges.to_pylist() == ["[0, 18)", "[18, 65)", ">=65", "<0"]
    with pytest.raises(SchemaError, match="not a number"):
        GeneralizeNumber().apply(pa.array(["12", "twelve"]), ctx("age"))


@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=200),
    mode=st.sampled_from(["additive", "multiplicative"]),
    seed=st.integers(0, 2**32),
)
def test_perturbation_keeps_mean_and_variance(values: list, mode: str, seed: int) -> None:
    x = np.array(values)
    out = Perturb(mode=mode, scale=0.2, rng=seeded(seed)).apply(pa.array(values), ctx())  # type: ignore[arg-type]
    y = out.to_numpy()
    spread = max(np.std(x), 1.0)
    assert abs(np.mean(y) - np.mean(x)) <= 1e-6 * spread
    assert abs(np.std(y) - np.std(x)) <= 1e-6 * spread


def test_perturbation_moves_values_but_keeps_nulls() -> None:
    values = pa.array([float(i) for i in range(100)] + [None])
    out = Perturb(scale=0.3, rng=seeded()).apply(values, ctx()).to_pylist()
    assert out[-1] is None
    moved = np.array(out[:-1]) - np.arange(100)
    assert np.abs(moved).max() > 0
    # Noise is cut at bound·scale·σ = 0.6σ; restoring the variance adds a few percent.
    assert np.abs(moved).max() < 0.8 * np.std(np.arange(100))


def test_perturbation_defaults_to_a_secure_rng() -> None:
    out = Perturb().apply(pa.array([1.0, 2.0, 3.0, 4.0]), ctx())  # no warning raised
    assert len(out) == 4


@given(
    values=st.lists(st.one_of(st.none(), st.integers(0, 5)), max_size=50), seed=st.integers(0, 99)
)
def test_shuffle_keeps_the_values_and_the_null_positions(values: list, seed: int) -> None:
    out = Shuffle(rng=seeded(seed)).apply(pa.array(values, pa.int64()), ctx()).to_pylist()
    assert Counter(out) == Counter(values)
    assert [v is None for v in out] == [v is None for v in values]


def test_shuffle_within_groups_keeps_each_group_distribution() -> None:
    table = pa.table(
        {
            "country": ["UK", "UK", "UK", "FR", "FR", None, None],
            "spend": [1, 2, 3, 10, 20, 100, 200],
            "age": [30, 40, 50, 60, 70, 80, 90],
        }
    )
    out = shuffle_within(table, ["spend", "age"], by=["country"], rng=seeded())
    assert out.column("country").equals(table.column("country"))
    for country in ("UK", "FR", None):
        rows = [i for i, c in enumerate(table["country"].to_pylist()) if c == country]
        assert sorted(out["spend"].take(rows).to_pylist()) == sorted(
            table["spend"].take(rows).to_pylist()
        )
    pairs_in = set(zip(table["spend"].to_pylist(), table["age"].to_pylist(), strict=True))
    pairs_out = set(zip(out["spend"].to_pylist(), out["age"].to_pylist(), strict=True))
    assert pairs_in == pairs_out  # the columns moved together
    with pytest.raises(SchemaError, match="no column"):
        shuffle_within(table, ["nope"], rng=seeded())


def test_hierarchy_from_arx_csv() -> None:
    path = str(DATA / "adult_hierarchy_education.csv")
    out = GeneralizeHierarchy(path=path, level=1).apply(
        pa.array(["Bachelors", "11th", None]), ctx()
    )
    assert out.to_pylist() == ["Undergraduate", "High School", None]
    top = GeneralizeHierarchy(path=path, level=3).apply(pa.array(["Bachelors"]), ctx())
    assert top.to_pylist() == ["*"]
    with pytest.raises(SchemaError, match="not in hierarchy"):
        GeneralizeHierarchy(path=path).apply(pa.array(["Hogwarts"]), ctx("education"))
    suppressed = GeneralizeHierarchy(path=path, unknown="suppress").apply(pa.array(["x"]), ctx())
    assert suppressed.to_pylist() == ["*"]
    with pytest.raises(ParameterError, match="beyond"):
        GeneralizeHierarchy(path=path, level=9)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("area", ["SW", "B", "941"]),
        ("district", ["SW1A", "B14", "941"]),
        ("sector", ["SW1A 1", "B14 4", "941"]),
    ],
)
def test_postcode_levels(level: str, expected: list) -> None:
    values = pa.array(["sw1a 1aa", "B14 4HN", "94103", None])
    out = GeneralizePostcode(level=level).apply(values, ctx())  # type: ignore[arg-type]
    assert out.to_pylist() == [*expected, None]


@pytest.mark.parametrize(
    ("technique", "params"),
    [
        ("partial_mask", {"keep_last": 2}),
        ("mask_card", {}),
        ("mask_email", {}),
        ("null", {}),
        ("generalize_number", {"width": 5}),
        ("generalize_postcode", {"level": "area"}),
        ("perturb", {"scale": 0.5}),
        ("shuffle", {}),
        ("fpe", {"luhn": True}),
        ("redact_text", {"action": "label", "per_kind": {"card_number": "mask"}}),
        ("redact_faces", {"method": "pixelate", "margin": 0.5}),
    ],
)
def test_every_new_technique_is_in_the_registry(technique: str, params: dict) -> None:
    assert technique in OPERATORS
    operator = build_operator(technique, params, Kind.UNKNOWN)
    assert type(operator).name == technique


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PartialMask(char="**"), "char"),
        (lambda: MaskCard(keep_last=6), "at most 4"),
        (lambda: GeneralizeNumber(width=0), "width"),
        (lambda: GeneralizeNumber(edges=(3, 1)), "ascending"),
        (lambda: Perturb(scale=0), "scale"),
        (lambda: Perturb(bound=0.1), "bound"),
        (lambda: Perturb(mode="wild"), "mode"),  # type: ignore[arg-type]
        (lambda: Shuffle(rng=42), "rng"),  # type: ignore[arg-type]
        (lambda: GeneralizePostcode(level="street"), "level"),  # type: ignore[arg-type]
        (lambda: GeneralizeHierarchy(path=""), "path"),
    ],
)
def test_bad_parameters_name_the_parameter(make: object, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        make()  # type: ignore[operator]


@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=25)), min_size=1, max_size=20),
    first=st.integers(0, 3),
    last=st.integers(0, 5),
    separators=st.booleans(),
)
def test_vectorized_partial_mask_equals_the_per_value_rule(
    values: list, first: int, last: int, separators: bool
) -> None:
    operator = PartialMask(keep_first=first, keep_last=last, keep_separators=separators)
    out = operator.apply(pa.array(values, pa.string()), ctx()).to_pylist()
    assert out == [None if v is None else operator.mask(v) for v in values]


@pytest.mark.parametrize(
    "operator",
    [PartialMask(), MaskCard(), MaskEmail(), GeneralizePostcode()],
    ids=lambda o: type(o).name,
)
def test_bytes_that_are_not_text_get_a_clear_error(operator: object) -> None:
    values = pa.array([b"\xff\xfe\xfd", b"ok"], pa.binary())
    with pytest.raises(SchemaError, match="not UTF-8"):
        operator.apply(values, ctx("card"))  # type: ignore[attr-defined]


def test_valid_utf8_bytes_are_read_as_text() -> None:
    out = MaskCard().apply(pa.array([b"4341636520529398"], pa.binary()), ctx())
    assert out.to_pylist() == ["************9398"]
