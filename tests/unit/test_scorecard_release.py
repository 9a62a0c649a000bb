"""The release scorecard on the Adult slice: k, risks and information loss of real releases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil.anonymity import KAnonymity, anonymize_mondrian, assess
from shopveil.data import read_table
from shopveil.errors import ParameterError
from shopveil.scorecard import information_loss, release_scorecard, render_scorecard

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
QI = ["age", "sex", "race", "marital-status"]


def _write(table: pa.Table, path: Path) -> Path:
    pacsv.write_csv(table, path)
    return path


def test_a_k_anonymous_release_passes_and_the_original_does_not(tmp_path: Path) -> None:
    original = read_table(ADULT)
    source = _write(original, tmp_path / "original.csv")
    made = anonymize_mondrian(original, QI, [KAnonymity(10)])
    release = _write(made.table, tmp_path / "k10.csv")

    card = release_scorecard(release, qi=QI, sensitive=["salary-class"], original=source)
    assert card.assessment.k >= 10 and card.passed
    assert card.assessment.prosecutor_risk == pytest.approx(1 / card.assessment.k)
    assert card.assessment.k == assess(made.table, QI).k
    # Read off the rows, the loss can only be below the method's own (a value covers
    # at most what its generalization does), and above nothing lost.
    assert card.ncp is not None and 0.0 < card.ncp <= made.utility.ncp + 1e-9
    assert card.verdict.startswith("PASS: k = ")

    raw = release_scorecard(source, qi=QI, original=source)
    assert not raw.passed and raw.assessment.k == 1 and raw.ncp == 0.0
    assert raw.verdict.startswith("AT RISK")

    page = render_scorecard(card)
    assert page.count("<svg") == 2 and "<script" not in page
    assert card.as_dict()["privacy"]["k"] == card.assessment.k


def test_a_release_without_quasi_identifiers_is_refused(tmp_path: Path) -> None:
    release = _write(read_table(ADULT).slice(0, 50), tmp_path / "r.csv")
    with pytest.raises(ParameterError, match=r"no quasi-identifiers declared.*--qi"):
        release_scorecard(release)


def test_suppressed_values_cost_everything() -> None:
    original = pa.table({"age": [20, 30, 40, 50], "sex": ["M", "F", "M", "F"]})
    released = pa.table({"age": ["*"] * 4, "sex": [None, None, None, None]}, schema=pa.schema(
        [("age", pa.string()), ("sex", pa.string())]))  # fmt: skip
    assert information_loss(original, released, ["age", "sex"]) == {"age": 1.0, "sex": 1.0}
    with pytest.raises(ParameterError, match="row order"):
        information_loss(original, released.slice(1), ["age"])


@given(
    st.lists(st.integers(0, 200), min_size=2, max_size=200),
    st.integers(1, 6),
)
def test_coarser_intervals_never_lose_less(ages: list[int], power: int) -> None:
    """Nested bins (width w, then 2w): the coarser release's loss is at least the finer's."""
    original = pa.table({"age": ages})

    def binned(width: int) -> pa.Table:
        low = np.asarray(ages) // width * width
        return pa.table({"age": [f"{a}-{a + width - 1}" for a in low.tolist()]})

    fine = information_loss(original, binned(2 ** (power - 1)), ["age"])["age"]
    coarse = information_loss(original, binned(2**power), ["age"])["age"]
    same = information_loss(original, pa.table({"age": [str(a) for a in ages]}), ["age"])
    assert same["age"] == 0.0
    assert 0.0 <= fine <= coarse + 1e-12 <= 1.0 + 1e-12
