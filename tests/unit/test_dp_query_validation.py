"""Every parameter that can be checked without the data is checked before the charge.

A parameter that a mechanism refuses only after the ledger was charged costs budget for
nothing; one it refuses only for some data (a math error reached only when a group
exists) tells the analyst about the data. Both are refused up front now.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Ledger, QueryOptions, run_query, top_k, top_pairs
from shopveil.errors import ParameterError
from shopveil.store import Store

# The steward declares these rows independent people: tests of the engine's checks.
PER_ROW = {"unit": PerRow(), "unit_declared": True}
DATA = pa.table(
    {
        "customer": [f"c{i % 40}" for i in range(400)],
        "country": ["FR", "DE", "UK", "ES"] * 100,
        "price": [1.0 + i % 13 for i in range(400)],
    }
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield Ledger(store, default_total=ApproxDP(1e4, 1e-3), people_key=PEOPLE_KEY)
    store.close()


@pytest.mark.parametrize(
    ("sql", "options", "message"),
    [
        # Choosing GROUP BY keys privately needs δ > 0: it was charged, then refused.
        ("SELECT country, COUNT(*) FROM t GROUP BY country", {"delta": 0.0}, "delta must be"),
        # 1001 distinct quantile candidates do not fit between these bounds.
        ("SELECT MEDIAN(price) AS m FROM t", {"bounds": {"m": (0.0, 1e-321)}}, "candidates"),
        # Noise for a sum this wide at ε/2 is past a double's range.
        (
            "SELECT SUM(price) AS s, COUNT(*) FROM t",
            {"bounds": {"s": (-1e308, 1e308)}},
            "'s' cannot be released",
        ),
    ],
)
def test_a_parameter_no_mechanism_accepts_is_refused_before_the_charge(
    ledger: Ledger, sql: str, options: dict, message: str
) -> None:
    with pytest.raises(ParameterError, match=message) as raised:
        run_query(
            sql, DATA, table="t", options=QueryOptions(epsilon=PureDP(1.0), **PER_ROW, **options),
            ledger=ledger,
        )  # fmt: skip
    assert "\n" not in str(raised.value)
    assert ledger.accounts() == []  # nothing charged, not even an account opened


def test_a_large_epsilon_is_answered_not_a_math_error_after_the_charge(ledger: Ledger) -> None:
    answer = run_query(
        "SELECT country, COUNT(*) AS n FROM t GROUP BY country",  # all of ε for the count
        DATA,
        table="t",
        options=QueryOptions(
            epsilon=PureDP(900.0), keys={"country": ("DE", "ES", "FR", "UK")}, **PER_ROW
        ),
        ledger=ledger,
    )
    assert sorted(r["country"] for r in answer.rows) == ["DE", "ES", "FR", "UK"]
    assert ledger.show("t", PerRow()).spent == ApproxDP(900.0, 0.0)


def test_bounds_as_wide_as_doubles_go_still_answer(ledger: Ledger) -> None:
    answer = run_query(
        "SELECT MEDIAN(price) AS m FROM t", DATA, table="t",
        options=QueryOptions(epsilon=PureDP(1.0), bounds={"price": (-1e308, 1e308)}, **PER_ROW),
        ledger=ledger,
    )  # fmt: skip
    assert answer.columns == ("m",)


def test_top_k_checks_its_parameters_before_reading_the_data(
    ledger: Ledger, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.csv"  # never opened: the parameters are refused first
    unit = PerCustomer("customer", 2)
    with pytest.raises(ParameterError, match="delta must be in"):
        top_k(missing, "country", 2, epsilon=PureDP(1.0), ledger=ledger, unit=unit, delta=0.0)
    with pytest.raises(ParameterError, match="delta must be in"):
        top_pairs(
            missing, "country", "customer", 2, epsilon=PureDP(1.0), ledger=ledger, unit=unit,
            delta=1.0,
        )  # fmt: skip
    assert ledger.accounts() == []


def test_top_k_with_a_large_epsilon_answers(ledger: Ledger) -> None:
    """The noise interval hit a math domain error, and only when a candidate existed."""
    best = top_k(
        DATA, "country", 2, epsilon=PureDP(3000.0), ledger=ledger, table="t",
        unit=PerCustomer("customer", 4), candidates=["FR", "DE", "UK", "ES"],
    )  # fmt: skip
    assert len(best.rows) == 2
