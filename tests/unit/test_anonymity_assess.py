"""Assessment: k, l, t against pycanon and plain group-bys; risk against its definitions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pycanon import anonymity as pycanon

from shopveil.anonymity import assess
from shopveil.anonymity._risk import expected_inverse_population_size
from shopveil.data._io import read_table
from shopveil.errors import ParameterError, SchemaError

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
QI = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass"]


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return read_table(ADULT)


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


@pytest.mark.parametrize(
    "qi",
    [
        ["sex", "race"],  # few large classes
        ["sex", "race", "marital-status", "workclass"],
        ["age", "education"],  # many small classes
    ],
)
def test_k_l_t_agree_with_pycanon(adult: pa.Table, qi: list[str]) -> None:
    frame = _frame(adult)
    result = assess(adult, qi, ["salary-class"])
    assert result.k == pycanon.k_anonymity(frame, qi)
    assert result.l == pycanon.l_diversity(frame, qi, ["salary-class"])
    assert result.t == pytest.approx(pycanon.t_closeness(frame, qi, ["salary-class"]), abs=1e-9)
    # pycanon truncates exp(entropy) to an integer.
    assert math.floor(result.l_entropy + 1e-9) == pycanon.entropy_l_diversity(
        frame, qi, ["salary-class"]
    )


def test_ordered_t_for_numeric_sensitive_agrees_with_pycanon() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "zip": rng.choice(["100", "101", "102", "103"], 600),
            "sex": rng.choice(["F", "M"], 600),
            "spend": rng.integers(0, 40, 600),
        }
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    result = assess(table, ["zip", "sex"], ["spend"])
    assert result.t == pytest.approx(pycanon.t_closeness(frame, ["zip", "sex"], ["spend"]))
    assert result.l == pycanon.l_diversity(frame, ["zip", "sex"], ["spend"])


def test_class_sizes_and_risks_follow_their_definitions(adult: pa.Table) -> None:
    qi = ["sex", "age", "race"]
    result = assess(adult, qi, ["salary-class"])
    sizes = _frame(adult).groupby(qi).size().to_numpy()
    n = len(adult)
    assert result.classes == len(sizes)
    assert result.k == sizes.min()
    assert sum(result.class_sizes.values()) == len(sizes)
    assert sum(size * count for size, count in result.class_sizes.items()) == n
    assert result.prosecutor.highest == pytest.approx(1 / sizes.min())
    assert result.prosecutor.average == pytest.approx(len(sizes) / n)
    assert result.marketer == pytest.approx(len(sizes) / n)  # the table is the population
    assert result.journalist.highest == pytest.approx(result.prosecutor.highest)
    assert result.sample_uniqueness == pytest.approx((sizes == 1).sum() / n)
    assert result.population_uniqueness == pytest.approx(result.sample_uniqueness)
    at_risk = sizes[1 / sizes > 0.2].sum() / n
    assert result.prosecutor.records_at_risk == pytest.approx(at_risk)


@pytest.mark.parametrize("pi", [0.01, 0.1, 0.5, 0.9])
def test_journalist_risk_has_its_closed_forms(pi: float) -> None:
    # Benedetti-Franconi: E[1/F | f=1] = -pi log(pi) / (1 - pi), and summing the
    # negative-binomial series by hand for f=2 gives pi - pi^2 (-log(pi) - q) / q^2.
    q = 1 - pi
    one, two = expected_inverse_population_size(np.array([1, 2]), pi)
    assert one == pytest.approx(-pi * math.log(pi) / q, rel=1e-9)
    assert two == pytest.approx(pi - pi**2 * (-math.log(pi) - q) / q**2, rel=1e-7)


def test_journalist_risk_lies_between_its_bounds() -> None:
    # For f >= 2: pi / f <= E[1/F] <= E[1/(F-1)] = pi / (f - 1).
    f = np.arange(2, 60)
    for pi in (0.05, 0.3, 0.8):
        risk = expected_inverse_population_size(f, pi)
        assert np.all(risk >= pi / f - 1e-12)
        assert np.all(risk <= pi / (f - 1) + 1e-12)


def test_a_sample_lowers_journalist_and_population_risk(adult: pa.Table) -> None:
    whole = assess(adult, ["sex", "age"], [])
    sample = assess(adult, ["sex", "age"], [], population_size=10 * len(adult))
    assert sample.journalist.highest < whole.journalist.highest
    assert sample.marketer < whole.marketer
    assert sample.population_uniqueness < whole.population_uniqueness
    assert sample.prosecutor == whole.prosecutor


def test_polars_input_gives_the_same_answer(adult: pa.Table) -> None:
    frame = pl.from_arrow(adult)
    assert isinstance(frame, pl.DataFrame)
    assert assess(frame, ["sex", "race"], ["salary-class"]) == assess(
        adult, ["sex", "race"], ["salary-class"]
    )


def test_json_has_the_contract_keys(adult: pa.Table) -> None:
    data = assess(adult, ["sex", "race"], ["salary-class"]).to_dict()
    for key in ("k", "l", "t", "prosecutor_risk", "journalist_risk", "marketer_risk"):
        assert key in data


def test_bad_input_is_refused_clearly(adult: pa.Table) -> None:
    with pytest.raises(SchemaError, match="'zip' is not a column"):
        assess(adult, ["sex", "zip"])
    with pytest.raises(ParameterError, match="empty"):
        assess(adult.slice(0, 0), ["sex"])
    with pytest.raises(ParameterError, match="both a quasi-identifier and a sensitive"):
        assess(adult, ["sex"], ["sex"])
    with pytest.raises(ParameterError, match="population_size"):
        assess(adult, ["sex"], population_size=10)
