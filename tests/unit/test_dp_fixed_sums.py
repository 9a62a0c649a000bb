"""DP sums account for floating-point rounding (Casacuberta et al., CCS 2022).

With the same seed, two runs draw the same noise, so the difference of their released
sums is the difference of the true values the noise was added to. Between neighbouring
datasets (one row added) that difference must stay within the declared sensitivity:
the clamping bound, plus the one noise-grid step the sum's rounding may add.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.dp import Ledger, QueryOptions, laplace_for, run_query
from shopveil.store import Store

EPSILON = 1024.0


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}")
    yield Ledger(store, default_total=PureDP(1e12))
    store.close()


def _released_sum(ledger: Ledger, values: list[float], bound: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)  # same noise both runs
        rng = insecure_seeded_rng(5)
    answer = run_query(
        "SELECT SUM(v) AS total FROM t",
        pa.table({"v": pa.array(values, pa.float64())}),
        table="t",
        options=QueryOptions(epsilon=PureDP(EPSILON), bounds={"total": (-bound, bound)}),
        ledger=ledger,
        rng=rng,
    )
    return float(answer.rows[0]["total"].value)


def _declared(bound: float) -> float:
    """The clamping bound plus one step of the noise grid (the sum's own rounding)."""
    grid = laplace_for(PureDP(EPSILON), bound, integer=False).granularity
    assert grid is not None
    return bound + grid


def test_rounding_cannot_move_a_sum_beyond_its_sensitivity(ledger: Ledger) -> None:
    """The attack: one added row flips how 16384 later additions round.

    32768 rows of 2^50 put the running float sum at 2^65, where a double's step is
    2^13, so each later 2^12 + 1 rounds up to 2^13; with one row fewer the sum stays
    below 2^65 and each rounds down to 2^12. A float sum then moves by 2^50 + 2^26
    between the neighbours, far past the noise grid (2^24 here).
    """
    big, small = 2.0**50, 2.0**12 + 1
    tail = [small] * 2**14 + [-big] * 2**15
    without = _released_sum(ledger, [big] * (2**15 - 1) + tail, big)
    with_row = _released_sum(ledger, [big] * 2**15 + tail, big)
    assert abs(with_row - without) <= _declared(big)


@given(
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=40,
    ),
    added=st.floats(allow_nan=True, allow_infinity=True),
    at=st.integers(min_value=0),
)
def test_one_added_row_moves_the_released_sum_by_its_sensitivity_at_most(
    ledger: Ledger, values: list[float], added: float, at: int
) -> None:
    bound = 1e6
    position = at % (len(values) + 1)
    neighbour = [*values[:position], added, *values[position:]]
    moved = abs(_released_sum(ledger, neighbour, bound) - _released_sum(ledger, values, bound))
    assert moved <= _declared(bound)


def test_groups_too_large_for_a_double_sum_are_summed_in_hugeint(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both paths sum the same grid integers: a group past the double limit answers alike."""
    from shopveil.dp._query import _render

    values = [0.1 * i for i in range(-500, 500)]
    fast = _released_sum(ledger, values, 60.0)
    monkeypatch.setattr(_render, "_EXACT_DOUBLE_ROWS", 10)  # every group is "too large"
    assert _released_sum(ledger, values, 60.0) == fast
