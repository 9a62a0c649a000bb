"""DP synthesis: what it charges, what it leaves out, what it keeps of the data."""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from _noise import seeded
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Ledger
from shopveil.errors import ParameterError, PrivacyError, SchemaError
from shopveil.policy import parse_policy
from shopveil.store import Store
from shopveil.synth import SynthOptions, compare_tables, identifier_columns, synthesize


def _shop(rows: int = 2000, seed: int = 0) -> pa.Table:
    """Customers whose tier follows their country, and an age in [18, 90]."""
    data = np.random.default_rng(seed)  # data only, never noise
    country = data.choice(["FR", "DE", "UK", "ES"], rows)
    tier = np.where(np.isin(country, ["FR", "DE"]), "gold", "basic")
    return pa.table(
        {
            "customer_id": pa.array([f"C{i:05d}" for i in range(rows)]),
            "email": pa.array([f"user{i}@example.com" for i in range(rows)]),
            "country": pa.array(country),
            "tier": pa.array(tier),
            "age": pa.array(data.integers(18, 91, rows)),
        }
    )


@pytest.fixture
def ledger(store: Store) -> Ledger:
    return Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(100.0, 1e-3))


def _quiet_rng(seed: int) -> np.random.Generator:
    return seeded(seed)


def test_identifiers_never_enter_the_model_and_the_release_is_charged_once(
    ledger: Ledger,
) -> None:
    options = SynthOptions(epsilon=1.0, delta=1e-6, bounds={"age": (18, 90)})
    result = synthesize(
        _shop(), options, ledger=ledger, dataset="shop", request_id="r1", rng=_quiet_rng(1)
    )
    assert result.table.column_names == ["country", "tier", "age"]
    assert set(result.dropped) == {"customer_id", "email"}
    assert all(why.startswith("direct identifier") for why in result.dropped.values())
    history = ledger.history("shop", PerRow())
    assert [(h.request_id, h.cost) for h in history] == [("r1", ApproxDP(1.0, 1e-6))]
    with pytest.raises(PrivacyError, match="already paid"):
        synthesize(_shop(), options, ledger=ledger, dataset="shop", request_id="r1")
    assert len(ledger.history("shop", PerRow())) == 1


def test_a_policy_names_identifiers_the_scan_would_miss() -> None:
    policy = parse_policy(
        "shopveil_policy: 1\nname: t\nextends: gdpr\ncolumns:\n"
        "  tier: {class: direct_identifier, kind: loyalty_id, technique: drop}\n",
        source="t.yaml",
    )
    found = identifier_columns(_shop(50), policy)
    assert "tier" in found and "t.yaml" in found["tier"]


def test_a_strong_dependency_survives_at_a_generous_budget(ledger: Ledger) -> None:
    options = SynthOptions(epsilon=20.0, delta=1e-6, bounds={"age": (18, 90)}, rows=3000)
    result = synthesize(_shop(), options, ledger=ledger, dataset="shop", rng=_quiet_rng(2))
    assert ("country", "tier") in result.edges or ("tier", "country") in result.edges
    out = result.table.to_pydict()
    agree = np.mean(
        [
            (c in ("FR", "DE")) == (t == "gold")
            for c, t in zip(out["country"], out["tier"], strict=True)
        ]
    )
    assert agree > 0.95
    assert result.table.num_rows == 3000


def test_bad_input_is_refused_before_anything_is_charged(ledger: Ledger) -> None:
    with pytest.raises(ParameterError, match=r"'age' has no public bounds.*--bounds age="):
        synthesize(_shop(), SynthOptions(epsilon=1.0), ledger=ledger, dataset="shop")
    with pytest.raises(ParameterError, match="exclude names 'nope'"):
        synthesize(
            _shop(),
            SynthOptions(epsilon=1.0, exclude=("nope",), bounds={"age": (0, 1)}),
            ledger=ledger,
            dataset="shop",
        )
    with pytest.raises(ParameterError, match="delta > 0"):
        SynthOptions(epsilon=1.0, delta=0.0)
    assert ledger.history("shop", PerRow()) == []


def test_repeated_ids_need_a_privacy_unit_and_then_each_customer_pays(ledger: Ledger) -> None:
    shop = _shop(400)
    twice = pa.concat_tables([shop, shop])
    options = SynthOptions(epsilon=1.0, bounds={"age": (18, 90)})
    with pytest.raises(PrivacyError, match=r"repeats ids.*--privacy-unit customer_id"):
        synthesize(twice, options, ledger=ledger, dataset="shop")
    unit = PerCustomer("customer_id")
    result = synthesize(twice, options, ledger=ledger, dataset="shop", unit=unit, rng=_quiet_rng(3))
    assert "customer_id" in result.dropped
    spent = ledger.person_spent("C00007", unit, ApproxDP(100.0, 1e-3))
    assert spent == ApproxDP(1.0, 1e-6)


def test_a_numeric_column_of_another_type_is_refused_with_the_fix(ledger: Ledger) -> None:
    table = pa.table({"day": pa.array([date(2024, 1, 1)] * 3, pa.date32())})
    with pytest.raises(SchemaError, match="exclude='day'"):
        synthesize(table, SynthOptions(epsilon=1.0), ledger=ledger, dataset="d")


# Each example fits a model; the scratch ledger has room for all of them (fresh request ids).
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=60),
    amounts=st.data(),
    rows=st.integers(1, 50),
)
def test_outputs_stay_in_the_public_domain(
    scratch_ledger: Ledger, values: list[str | None], amounts: st.DataObject, rows: int
) -> None:
    n = len(values)
    amount = amounts.draw(
        st.lists(st.floats(-1e6, 1e6) | st.none(), min_size=n, max_size=n), label="amount"
    )
    table = pa.table(
        {"kind": pa.array(values, pa.string()), "amount": pa.array(amount, pa.float64())}
    )
    options = SynthOptions(epsilon=1.0, bounds={"amount": (0.0, 10.0)}, rows=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = synthesize(table, options, ledger=scratch_ledger, dataset="h")
    out = result.table
    assert out.num_rows == rows
    assert set(out.column("kind").to_pylist()) <= {"a", "b", "c", None}
    numbers = [v for v in out.column("amount").to_pylist() if v is not None]
    assert all(0.0 <= v <= 10.0 for v in numbers)


def test_pairs_too_large_to_tabulate_leave_a_forest_whose_columns_are_all_drawn(
    scratch_ledger: Ledger,
) -> None:
    values = tuple(f"v{i}" for i in range(2100))  # 2101 codes: any pair is over MAX_CELLS
    data = np.random.default_rng(5)  # data only, never noise
    table = pa.table({c: pa.array(data.choice(values[:3], 3000)) for c in ("a", "b", "c")})
    options = SynthOptions(epsilon=8.0, domains={c: values for c in ("a", "b", "c")})
    result = synthesize(table, options, ledger=scratch_ledger, dataset="f", rng=_quiet_rng(6))
    assert result.edges == ()
    for column in ("a", "b", "c"):
        drawn = result.table.column(column).drop_null().to_pylist()
        shares = [drawn.count(v) / len(drawn) for v in ("v0", "v1", "v2")]
        assert len(drawn) > 2000 and min(shares) > 0.2  # each drawn, not left at code 0


def test_the_report_is_zero_for_the_real_table_and_sees_lost_dependencies() -> None:
    shop = _shop(1000).drop_columns(["customer_id", "email"])
    same = compare_tables(shop, shop, bounds={"age": (18, 90)}, rng=np.random.default_rng(0))
    assert same.marginal_error == {1: 0.0, 2: 0.0, 3: 0.0}
    assert same.closest_record["exact_copies"] == 1.0
    data = np.random.default_rng(1)  # data only: each column shuffled on its own
    shuffled = pa.table(
        {c: shop[c].take(pa.array(data.permutation(1000))) for c in shop.column_names}
    )
    apart = compare_tables(shop, shuffled, bounds={"age": (18, 90)}, rng=np.random.default_rng(0))
    assert apart.marginal_error[1] == 0.0  # the same values...
    assert apart.marginal_error[2] > 0.1  # ...without country → tier
