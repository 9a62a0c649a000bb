"""Mondrian partitioning: k, l and t by independent checks, and a Hypothesis property."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycanon import anonymity as pycanon

from shopveil.anonymity import (
    KAnonymity,
    LDiversity,
    MondrianMode,
    TCloseness,
    anonymize_mondrian,
    assess,
)
from shopveil.data._io import read_table
from shopveil.errors import ParameterError, PrivacyError, SchemaError

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
QI = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
]
SENSITIVE = "salary-class"


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return read_table(ADULT)


@pytest.mark.parametrize("k", [2, 5, 10, 50, 100])
@pytest.mark.parametrize("mode", list(MondrianMode))
def test_output_is_k_anonymous_by_group_by_and_pycanon(
    adult: pa.Table, k: int, mode: MondrianMode
) -> None:
    result = anonymize_mondrian(adult, QI, [KAnonymity(k)], mode=mode)
    frame = result.table.to_pandas()
    assert len(frame) == len(adult)  # Mondrian suppresses nothing
    assert int(frame.groupby(QI).size().min()) >= k
    assert pycanon.k_anonymity(frame, QI) >= k
    assert result.utility.suppressed_rows == 0
    # Other columns pass through untouched, row order kept.
    assert frame[SENSITIVE].tolist() == adult.column(SENSITIVE).to_pylist()


def test_generalized_values_cover_the_originals(adult: pa.Table) -> None:
    result = anonymize_mondrian(adult, QI, [KAnonymity(5)])
    out = result.table.to_pandas()
    original = adult.to_pandas()
    ages = out["age"].str.strip("[]").str.split(", ")
    low = ages.map(lambda p: float(p[0]))
    high = ages.map(lambda p: float(p[-1]))
    age = original["age"].astype(float)
    assert bool(((low <= age) & (age <= high)).all())
    for name in ("education", "occupation"):
        members = out[name].map(lambda v: set(v.strip("{}").split(", ")))
        assert all(o in m for o, m in zip(original[name], members, strict=True))


def test_ncp_and_discernibility_follow_their_definitions(adult: pa.Table) -> None:
    result = anonymize_mondrian(adult, ["age", "education"], [KAnonymity(10)])
    out, original = result.table.to_pandas(), adult.to_pandas()
    sizes = out.groupby(["age", "education"]).size().to_numpy()
    assert result.utility.discernibility == float((sizes**2).sum())
    ages = original["age"].astype(float)
    parts = out["age"].str.strip("[]").str.split(", ")
    width = parts.map(lambda p: float(p[-1]) - float(p[0]))
    age_ncp = (width / (ages.max() - ages.min())).mean()
    count = out["education"].map(lambda v: len(v.strip("{}").split(", ")))
    education_ncp = ((count - 1) / (original["education"].nunique() - 1)).mean()
    assert result.utility.ncp_by_attribute["age"] == pytest.approx(age_ncp)
    assert result.utility.ncp_by_attribute["education"] == pytest.approx(education_ncp)
    assert result.utility.ncp == pytest.approx((age_ncp + education_ncp) / 2)


@pytest.mark.parametrize(
    "requirements",
    [
        [KAnonymity(5), LDiversity(2)],
        [KAnonymity(5), TCloseness(0.1)],
        [KAnonymity(4), LDiversity(1.4, variant="entropy")],
        [KAnonymity(4), LDiversity(2, variant="recursive", c=4)],
    ],
)
def test_l_and_t_hold_by_pycanon_and_assess(adult: pa.Table, requirements: list) -> None:
    result = anonymize_mondrian(adult, QI, requirements, sensitive=[SENSITIVE])
    frame = result.table.to_pandas()
    report = assess(result.table, QI, [SENSITIVE])
    for req in requirements:
        if isinstance(req, KAnonymity):
            assert pycanon.k_anonymity(frame, QI) >= req.k
        elif isinstance(req, TCloseness):
            assert pycanon.t_closeness(frame, QI, [SENSITIVE]) <= req.t + 1e-9
        elif req.variant == "distinct":
            assert pycanon.l_diversity(frame, QI, [SENSITIVE]) >= req.l
        elif req.variant == "entropy":
            assert report.l_entropy is not None and report.l_entropy >= req.l - 1e-9
        else:
            # Recursive (c, l): in every class the top count < c * (the rest from l on).
            for _, group in frame.groupby(QI):
                counts = sorted(group[SENSITIVE].value_counts().tolist(), reverse=True)
                assert counts[0] < req.c * sum(counts[int(req.l) - 1 :])


def test_numeric_sensitive_uses_ordered_distance() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 800), "spend": rng.integers(0, 30, 800)})
    frame["spend"] = np.where(frame["age"] > 60, frame["spend"] + 20, frame["spend"])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    result = anonymize_mondrian(
        table, ["age"], [KAnonymity(5), TCloseness(0.1)], sensitive=["spend"]
    )
    out = result.table.to_pandas()
    out["spend"] = out["spend"].astype(int)
    assert pycanon.t_closeness(out, ["age"], ["spend"]) <= 0.1 + 1e-9


def test_polars_in_polars_out(adult: pa.Table) -> None:
    frame = pl.from_arrow(adult)
    assert isinstance(frame, pl.DataFrame)
    result = anonymize_mondrian(frame, ["age", "sex"], [KAnonymity(5)])
    assert isinstance(result.table, pl.DataFrame)
    assert result.table.height == frame.height


def test_bad_input_is_refused(adult: pa.Table) -> None:
    with pytest.raises(SchemaError, match="'zip' is not a column"):
        anonymize_mondrian(adult, ["zip"], [KAnonymity(2)])
    with pytest.raises(ParameterError, match="larger than the table"):
        anonymize_mondrian(adult, QI, [KAnonymity(len(adult) + 1)])
    with pytest.raises(ParameterError, match="empty"):
        anonymize_mondrian(adult.slice(0, 0), QI, [KAnonymity(2)])
    with pytest.raises(ParameterError, match="k: expected an integer"):
        KAnonymity(0)
    with pytest.raises(ParameterError, match="t: expected"):
        TCloseness(1.5)
    with pytest.raises(ParameterError, match="c: recursive"):
        LDiversity(2, variant="recursive")
    with pytest.raises(ValueError):
        anonymize_mondrian(adult, QI, [KAnonymity(2)], mode="loose")


def test_whole_table_failing_is_a_privacy_error() -> None:
    table = pa.table({"age": list(range(10)), "s": ["a"] * 10})
    with pytest.raises(PrivacyError, match="whole table"):
        anonymize_mondrian(
            table, ["age"], [KAnonymity(2), LDiversity(1.5, variant="entropy")], sensitive=["s"]
        )


@st.composite
def _tables(draw: st.DrawFn) -> tuple[pa.Table, int, bool]:
    n = draw(st.integers(1, 60))
    numeric = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    category = draw(st.lists(st.sampled_from("abcde"), min_size=n, max_size=n))
    k = draw(st.integers(1, n))
    relaxed = draw(st.booleans())
    return pa.table({"x": numeric, "c": category}), k, relaxed


@given(_tables())
def test_every_class_has_at_least_k_rows(case: tuple[pa.Table, int, bool]) -> None:
    table, k, relaxed = case
    mode = MondrianMode.RELAXED if relaxed else MondrianMode.STRICT
    result = anonymize_mondrian(table, ["x", "c"], [KAnonymity(k)], mode=mode)
    out = result.table.to_pandas()
    assert len(out) == table.num_rows
    assert int(out.groupby(["x", "c"]).size().min()) >= k


@given(_tables(), st.floats(0.0, 0.1))
def test_lattice_classes_have_at_least_k_rows_after_suppression(
    case: tuple[pa.Table, int, bool], limit: float
) -> None:
    from shopveil.anonymity import anonymize_lattice

    table, k, _ = case
    result = anonymize_lattice(table, ["x", "c"], None, [KAnonymity(k)], limit)
    out = result.table.to_pandas()
    assert result.utility.suppressed_rows <= limit * table.num_rows
    if len(out):
        assert int(out.groupby(["x", "c"]).size().min()) >= k
