"""Per-person accounting: every person in a release pays for it, or is left out of it."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.clock import FixedClock
from shopveil._core.subjects import IdType
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import Ledger, People, PeopleKey, Renewal
from shopveil.dp._people import SKETCH_SIZE, containment, sketch_of
from shopveil.errors import ParameterError
from shopveil.store import Store

UNIT = PerCustomer("CustomerID")


def test_every_spelling_of_a_customer_is_one_person(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    spellings = pa.array(["17850.0", " 17850", "017850"])
    assert len(ledger.people(spellings, UNIT)) == 1
    assert np.array_equal(
        ledger.people(pa.array([17850]), UNIT).pids, ledger.people(spellings, UNIT).pids
    )
    assert len(ledger.people(pa.array(["a", "A", None, ""]), UNIT)) == 2


def test_the_hash_is_keyed_so_another_workspace_cannot_match_it() -> None:
    ids = pa.array(["17850"])
    other = PeopleKey(secrets.token_bytes(32))
    assert not np.array_equal(PEOPLE_KEY.hash_ids(ids, UNIT), other.hash_ids(ids, UNIT))


def test_people_who_cannot_pay_are_left_out_whatever_the_dataset_is_called(
    store: Store,
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    everyone = ledger.people([str(i) for i in range(100)], UNIT)
    first = ledger.charge("a", "orders", UNIT, PureDP(0.6), people=everyone)
    assert first.left_out.size == 0
    # A copy under another name, or a subset, buys no one a fresh budget.
    again = ledger.charge("b", "copy-of-orders", UNIT, PureDP(0.6), people=everyone)
    assert np.array_equal(again.left_out, everyone.pids)
    subset = ledger.people([str(i) for i in range(50)], UNIT)
    assert ledger.charge("c", "half", UNIT, PureDP(0.6), people=subset).left_out.size == 50
    # New people still can pay, alone in the same release.
    mixed = ledger.people([str(i) for i in range(95, 110)], UNIT)
    left_out = ledger.charge("d", "more", UNIT, PureDP(0.6), people=mixed).left_out
    assert np.array_equal(left_out, ledger.people(["95", "96", "97", "98", "99"], UNIT).pids)
    spending = ledger.spending("customer", ApproxDP(1.0, 1e-6))
    assert spending.most == ApproxDP(0.6, 0.0)


def test_a_release_per_customer_must_name_its_people(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    with pytest.raises(ParameterError, match="names the people"):
        ledger.charge("x", "orders", UNIT, PureDP(0.1))
    with pytest.raises(ParameterError, match="names the people"):
        ledger.charge("y", "orders", PerRow(), PureDP(0.1), people=ledger.people(["1"], UNIT))
    with pytest.raises(ParameterError, match="typed privacy unit"):
        ledger.charge("z", "orders", "row", PureDP(0.1))  # type: ignore[arg-type]
    assert ledger.accounts() == []  # refused before any write
    with pytest.raises(ParameterError, match="people key"):
        Ledger(store).people(["1"], UNIT)


def test_budgets_of_every_renewal_rule_add_up_for_one_person(store: Store) -> None:
    clock = FixedClock(datetime(2026, 11, 30, 12))
    ledger = Ledger(store, people_key=PEOPLE_KEY, clock=clock)
    ledger.set_budget("monthly", UNIT, PureDP(1.0), renewal=Renewal.MONTHLY)
    ledger.set_budget("forever", UNIT, PureDP(1.0))
    person = ledger.people(["7"], UNIT)
    ledger.charge("m1", "monthly", UNIT, PureDP(0.7), people=person)
    # Another rule does not reset the monthly spending: the person has 0.3 left.
    assert ledger.charge("f1", "forever", UNIT, PureDP(0.5), people=person).left_out.size == 1
    december = Ledger(store, people_key=PEOPLE_KEY, clock=FixedClock(datetime(2026, 12, 1)))
    # A new month renews what was spent monthly, not what never renews.
    assert december.charge("m2", "monthly", UNIT, PureDP(0.9), people=person).left_out.size == 0


def test_one_namespace_keeps_one_family_of_budgets(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    person = ledger.people(["7"], UNIT)
    ledger.charge("e", "eps", UNIT, PureDP(0.1), people=person)
    ledger.set_budget("rho", UNIT, ZCDP(1.0))
    with pytest.raises(ParameterError, match="accounted in ApproxDP or PureDP"):
        ledger.charge("r", "rho", UNIT, ZCDP(0.1), people=person)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    releases=st.lists(
        st.tuples(st.sets(st.integers(0, 15), min_size=1), st.sampled_from([0.1, 0.25, 0.4])),
        min_size=1,
        max_size=12,
    )
)
def test_no_one_ever_spends_more_than_their_budget(
    tmp_path: Path, releases: list[tuple[set[int], float]]
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / f'{secrets.token_hex(4)}.db'}")
    try:
        ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=PureDP(1.0))
        paid = dict.fromkeys(range(16), 0.0)
        for i, (ids, cost) in enumerate(releases):
            people = ledger.people([str(p) for p in sorted(ids)], UNIT)
            # Every release under its own name: only the people's budgets hold.
            charge = ledger.charge(f"r{i}", f"name-{i}", UNIT, PureDP(cost), people=people)
            out = set(charge.left_out.tolist())
            for p in ids:
                pid = int(ledger.people([str(p)], UNIT).pids[0])
                if pid in out:
                    assert paid[p] + cost > 1.0 + 1e-9  # left out only when it could not pay
                else:
                    paid[p] += cost
                    assert paid[p] <= 1.0 + 1e-9
        most = ledger.spending("customer", PureDP(1.0)).most
        assert most.epsilon == pytest.approx(max(paid.values()))  # type: ignore[union-attr]
    finally:
        store.close()


def test_the_fingerprint_estimates_who_is_in_a_dataset() -> None:
    rng = np.random.default_rng(3)
    everyone = People("customer", rng.integers(0, 2**62, 50_000))
    sketch = sketch_of(everyone)
    assert sketch.size == SKETCH_SIZE
    half = People("customer", everyone.pids[::2])
    strangers = People("customer", rng.integers(0, 2**62, 20_000))
    assert containment(half, sketch) == 1.0
    assert containment(strangers, sketch) < 0.01
    mixed = People("customer", np.concatenate([everyone.pids[::5], strangers.pids[::2]]))
    assert 0.35 < containment(mixed, sketch) < 0.65


def test_integer_ids_refuse_text_and_nothing_is_charged(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    strict = PerCustomer("CustomerID", id_type=IdType.INTEGER)
    assert len(ledger.people(["17850", "C17850"], strict)) == 1  # text is no one's id


def test_rows_whose_id_is_no_ones_are_left_out_of_a_query(store: Store) -> None:
    from shopveil.dp import QueryOptions, run_query

    ledger = Ledger(store, people_key=PEOPLE_KEY, default_total=PureDP(1e7))
    # "7.5" is not an integer id: nobody is charged for its rows, so they must not count.
    data = pa.table({"cid": ["1", "2", "7.5", "7.5", "7.5"], "n": [1, 1, 1, 1, 1]})
    strict = PerCustomer("cid", 5, IdType.INTEGER)
    answer = run_query(
        "SELECT SUM(n) AS total FROM t", data, table="t", ledger=ledger,
        options=QueryOptions(epsilon=PureDP(1e6), bounds={"total": (0, 1)}, unit=strict),
    )  # fmt: skip
    assert round(answer.rows[0]["total"].value) == 2
