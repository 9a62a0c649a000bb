"""Clamping bounds, privacy unit and default budget declared in a policy's ``dp:`` section."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _people import PEOPLE_KEY
from hypothesis import given
from hypothesis import strategies as st

from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Ledger, QueryOptions, run_query
from shopveil.errors import AccessDenied, PolicyError
from shopveil.policy import load_policy, parse_policy
from shopveil.store import Store

RETAIL = """\
shopveil_policy: 1
name: retail
extends: gdpr
dp:
  bounds:
    UnitPrice: [0, 50]
    Quantity: [-10, 100]
  privacy_unit: {column: CustomerID, max_contributions: 5}
  default_budget: {epsilon: 2.0, delta: 1.0e-7}
"""


def _policy_file(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _orders(rows: int = 2000) -> pa.Table:
    data = np.random.default_rng(7)  # data generation only, never noise
    return pa.table(
        {
            "CustomerID": data.integers(0, 300, rows).astype(np.float64),
            "Quantity": data.integers(-5, 500, rows),  # some above the policy's bound
            "UnitPrice": np.round(data.uniform(0, 80, rows), 2),
        }
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=PureDP(1e7))
    store.close()


def test_the_dp_section_is_loaded_with_where_each_bound_was_declared(tmp_path: Path) -> None:
    path = _policy_file(tmp_path, RETAIL)
    dp = load_policy(path).dp
    assert dp.bounds == {"UnitPrice": (0.0, 50.0), "Quantity": (-10.0, 100.0)}
    assert dp.bounds_where == {"UnitPrice": f"{path}:6", "Quantity": f"{path}:7"}
    assert dp.unit == PerCustomer("CustomerID", 5)
    assert dp.default_budget == ApproxDP(2.0, 1e-7)


def test_a_policy_without_a_dp_section_declares_nothing() -> None:
    dp = load_policy("gdpr").dp
    assert dict(dp.bounds) == {} and dp.unit is None and dp.default_budget is None


def test_a_pure_default_budget_when_delta_is_zero() -> None:
    text = "shopveil_policy: 1\nname: x\ndp:\n  default_budget: {epsilon: 3, delta: 0}\n"
    assert parse_policy(text).dp.default_budget == PureDP(3.0)


def test_a_default_budget_without_delta_gets_the_default_delta() -> None:
    # A pure budget would refuse the releases that need δ (private GROUP BY keys, models).
    text = "shopveil_policy: 1\nname: x\ndp:\n  default_budget: {epsilon: 3}\n"
    assert parse_policy(text).dp.default_budget == ApproxDP(3.0, DEFAULT_DELTA) == ApproxDP(3, 1e-6)


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("[5, 1]", r"dp\.bounds\.Q is \[5, 1\].*LOW < HIGH"),
        ("[2, 2]", r"dp\.bounds\.Q is \[2, 2\]"),
        ("[0, .inf]", r"dp\.bounds\.Q is \[0, inf\].*finite"),
        ("[.nan, 1]", r"dp\.bounds\.Q is \[nan, 1\]"),
        ("[1]", r"dp\.bounds\.Q: \[1\] is too short"),
        ("[0, 1, 2]", r"is too long"),
        ("[a, 2]", r"'a' is not of type 'number'"),
    ],
)
def test_bad_bounds_name_the_file_and_line(tmp_path: Path, pair: str, message: str) -> None:
    text = f"shopveil_policy: 1\nname: x\ndp:\n  bounds:\n    P: [0, 1]\n    Q: {pair}\n"
    path = _policy_file(tmp_path, text)
    with pytest.raises(PolicyError, match=rf"^{path}:6: .*{message}"):
        load_policy(path)


def test_bad_bounds_in_a_parent_policy_name_the_parent(tmp_path: Path) -> None:
    parent = _policy_file(
        tmp_path, "shopveil_policy: 1\nname: p\ndp:\n  bounds:\n    Q: [9, 1]\n", "parent.yaml"
    )
    child = _policy_file(tmp_path, "shopveil_policy: 1\nname: c\nextends: parent.yaml\n")
    with pytest.raises(PolicyError, match=rf"^{parent}:5: dp\.bounds\.Q"):
        load_policy(child)


def test_yaml_exponent_without_a_dot_gets_a_hint() -> None:
    text = "shopveil_policy: 1\nname: x\ndp:\n  default_budget: {epsilon: 1, delta: 1e-7}\n"
    with pytest.raises(PolicyError, match=r"<policy>:4: .*write it with a dot, e\.g\. 1\.0e-7"):
        parse_policy(text)


def test_unknown_keys_in_the_dp_section_are_refused() -> None:
    text = "shopveil_policy: 1\nname: x\ndp:\n  bound:\n    Q: [0, 1]\n"
    with pytest.raises(
        PolicyError, match=r"<policy>:3: dp: .*'bound' was unexpected.*allowed keys: bounds"
    ):
        parse_policy(text)


def test_a_child_overrides_bounds_column_by_column(tmp_path: Path) -> None:
    _policy_file(tmp_path, RETAIL, "retail.yaml")
    child = _policy_file(
        tmp_path,
        "shopveil_policy: 1\nname: child\nextends: retail.yaml\n"
        "dp:\n  bounds:\n    UnitPrice: [1, 20]\n",
    )
    dp = load_policy(child).dp
    assert dp.bounds == {"UnitPrice": (1.0, 20.0), "Quantity": (-10.0, 100.0)}
    assert dp.bounds_where["UnitPrice"] == f"{child}:6"
    assert dp.bounds_where["Quantity"] == f"{tmp_path / 'retail.yaml'}:7"
    assert dp.unit == PerCustomer("CustomerID", 5)  # inherited


def test_from_policy_takes_the_policy_defaults_and_lets_explicit_options_win() -> None:
    policy = parse_policy(RETAIL, "retail.yaml")
    options = QueryOptions.from_policy(policy, epsilon=PureDP(1.0))
    assert options.bounds == {"UnitPrice": (0.0, 50.0), "Quantity": (-10.0, 100.0)}
    assert options.unit == PerCustomer("CustomerID", 5)
    assert options.bounds_where["UnitPrice"] == "policy 'retail' (retail.yaml:6)"
    mine = QueryOptions.from_policy(
        policy, epsilon=PureDP(1.0), bounds={"UnitPrice": (0, 9)}, unit=PerRow()
    )
    assert mine.bounds["UnitPrice"] == (0, 9) and "UnitPrice" not in mine.bounds_where
    assert mine.unit == PerRow()


def test_from_policy_refuses_an_epsilon_over_the_policy_cap() -> None:
    policy = parse_policy(RETAIL, "retail.yaml")  # gdpr's preset caps ε at 1
    QueryOptions.from_policy(policy, epsilon=PureDP(1.0))
    with pytest.raises(PolicyError, match=r"base\.yaml:\d+: .*at most ε = 1 .*asked ε = 1\.5"):
        QueryOptions.from_policy(policy, epsilon=PureDP(1.5))
    lower = parse_policy(RETAIL + "release_status:\n  anonymous: {k: 20, epsilon_cap: 0.25}\n")
    with pytest.raises(PolicyError, match=r"<policy>:\d+: .*at most ε = 0\.25"):
        QueryOptions.from_policy(lower, epsilon=PureDP(0.5))


def test_from_policy_checks_the_purpose_allows_aggregates() -> None:
    policy = parse_policy(RETAIL)
    QueryOptions.from_policy(policy, epsilon=PureDP(1.0), purpose="analytics")
    with pytest.raises(AccessDenied, match="'support' does not allow aggregate"):
        QueryOptions.from_policy(policy, epsilon=PureDP(1.0), purpose="support")
    with pytest.raises(PolicyError, match="unknown purpose 'nope'"):
        QueryOptions.from_policy(policy, epsilon=PureDP(1.0), purpose="nope")


def test_a_query_clamps_to_the_policy_bounds_and_says_where_they_came_from(
    ledger: Ledger,
) -> None:
    # The presets cap a DP release at ε = 1; this policy lifts it for a noiseless look.
    uncapped = RETAIL + "release_status:\n  anonymous: {k: 11, epsilon_cap: 1.0e+7}\n"
    policy = parse_policy(uncapped, "retail.yaml")
    options = QueryOptions.from_policy(
        policy,
        epsilon=PureDP(1e6),
        unit=PerRow(),
        unit_declared=True,
        bounds={"price_sum": (0, 10)},
    )
    answer = run_query(
        "SELECT SUM(Quantity) AS qty, SUM(UnitPrice) AS price_sum FROM orders",
        _orders(),
        table="orders",
        options=options,
        ledger=ledger,
    )
    data = _orders()
    qty = np.clip(data["Quantity"].to_numpy(), -10, 100).sum()
    price = np.clip(data["UnitPrice"].to_numpy(), 0, 10).sum()
    # ε = 10⁶: the noise is far below 1, so the released sums show which bounds applied.
    assert abs(answer.rows[0]["qty"].value - qty) < 1
    assert abs(answer.rows[0]["price_sum"].value - price) < 1
    notes = " | ".join(answer.notes)
    assert (
        "qty: values clamped to [-10, 100] (bounds from policy 'retail' (retail.yaml:7))" in notes
    )
    assert "price_sum: values clamped to [0, 10] (bounds given with the query)" in notes


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(0, 1e6, allow_nan=False),
)
def test_any_finite_pair_loads_exactly_when_low_is_below_high(low: float, width: float) -> None:
    # YAML 1.1 reads a float only with a dot and a signed exponent: write it so.
    low_text, high_text = f"{low:.17e}", f"{low + width:.17e}"
    text = f"shopveil_policy: 1\nname: x\ndp:\n  bounds:\n    Q: [{low_text}, {high_text}]\n"
    expected = (float(low_text), float(high_text))
    if expected[0] < expected[1]:
        assert parse_policy(text).dp.bounds["Q"] == expected
    else:
        with pytest.raises(PolicyError, match=r"<policy>:5: dp\.bounds\.Q is"):
            parse_policy(text)
