"""The tuner: its recommended point against the methods' own results, its front, and
its charges, which land in the ledger exactly as the fits it ran."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _purchases import purchases
from shopveil.anonymity import KAnonymity, anonymize_lattice, anonymize_mondrian, load_hierarchies
from shopveil.data import read_table
from shopveil.dp import Ledger
from shopveil.errors import ParameterError
from shopveil.learn import CUSTOMER, FitContext, NoSignalWarning
from shopveil.tune import (
    RecommenderSpace,
    RecommenderTarget,
    TableSpace,
    TableTarget,
    last_share_per_user,
    pareto_front,
    tune_recommender,
    tune_table,
)

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult"
QI = ["sex", "age", "race", "marital-status", "education"]


@pytest.fixture(scope="module")
def adult() -> tuple[object, dict[str, object]]:
    table = read_table(ADULT / "adult_slice.csv").slice(0, 1500)
    return table, load_hierarchies(ADULT, QI)


def test_the_table_tuner_loses_no_more_than_either_method_at_its_defaults(adult) -> None:
    table, hierarchies = adult
    space = TableSpace(suppression_limits=(0.0, 0.02), k_factors=(1.0, 2.0))
    tuning = tune_table(table, QI, TableTarget(5), hierarchies=hierarchies, space=space)
    lattice = anonymize_lattice(table, QI, hierarchies, [KAnonymity(5)]).utility.ncp
    mondrian = anonymize_mondrian(table, QI, [KAnonymity(5)]).utility.ncp
    assert tuning.recommended.ncp <= min(lattice, mondrian) + 1e-12
    assert tuning.best_default is not None
    assert tuning.best_default.ncp == pytest.approx(min(lattice, mondrian))
    # The release it hands back is the recommended point's, and is k-anonymous.
    released = tuning.release.table
    sizes = released.group_by(QI).aggregate([([], "count_all")]).column("count_all")
    assert pc.min(sizes).as_py() >= 5
    assert tuning.release.utility.ncp == tuning.recommended.ncp
    assert tuning.to_dict()["epsilon_charged"] == 0.0


def test_a_risk_ceiling_moves_the_recommendation_to_larger_classes(adult) -> None:
    table, hierarchies = adult
    space = TableSpace(suppression_limits=(0.0,), k_factors=(1.0, 4.0))
    free = tune_table(table, QI, TableTarget(5), hierarchies=hierarchies, space=space)
    ceiling = free.recommended.risk / 2
    capped = tune_table(
        table, QI, TableTarget(5, risk_ceiling=ceiling), hierarchies=hierarchies, space=space
    )
    assert capped.recommended.risk <= ceiling
    assert capped.recommended.ncp >= free.recommended.ncp


def test_a_table_without_quasi_identifiers_is_refused(adult) -> None:
    with pytest.raises(ParameterError, match="no quasi-identifiers declared"):
        tune_table(adult[0], [], TableTarget(5))


points = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12)


@given(points)
def test_the_front_is_exactly_the_undominated_points(values: list[tuple[int, int]]) -> None:
    def dominates(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return a[0] <= b[0] and a[1] <= b[1] and a != b

    front = pareto_front([tuple(map(float, v)) for v in values])
    for v, on in zip(values, front, strict=True):
        assert on == (not any(dominates(w, v) for w in values))


def test_the_validation_window_is_each_customers_last_purchases() -> None:
    data = purchases(customers=40)
    data = type(data)(
        data.users, data.items, data.times + (data.items * 1000).astype("timedelta64[s]"),
        data.user_ids, data.item_ids, data.catalogue,
    )  # fmt: skip
    rest, last = last_share_per_user(data, 0.25)
    assert len(rest) + len(last) == len(data)
    for user in range(data.n_users):
        before, after = rest.times[rest.users == user], last.times[last.users == user]
        if len(after):
            assert before.max() <= after.min()
            assert len(after) == len(before) + len(after) - math.ceil(
                0.75 * (len(before) + len(after))
            )


def _tune(ledger: Ledger, **space: object):
    data = purchases(customers=120)
    grid = {"rank": (2, 4), "count_share": (0.3, 0.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        return tune_recommender(
            data,
            "dp-als",
            RecommenderTarget(2.0),
            space=RecommenderSpace.of(grid, **space),
            context=FitContext(ledger=ledger, dataset="tuning"),
        )


def test_every_private_fit_is_charged_once_at_its_epsilon(scratch_ledger: Ledger) -> None:
    tuning = _tune(scratch_ledger, repeats=2, finalists=1)
    history = scratch_ledger.history("tuning", CUSTOMER, limit=1000)
    ids = [i for c in tuning.candidates for i in c.request_ids]
    # 5 points (the grid and the defaults, rank 4 / share 0.3 among them: 4) twice, then
    # the best and the defaults twice more.
    assert tuning.fits == sum(len(c.scores) for c in tuning.candidates) == len(ids)
    assert sorted(r.request_id for r in history) == sorted(ids)
    assert all(r.cost.epsilon == pytest.approx(2.0) for r in history)
    assert tuning.epsilon_charged == pytest.approx(2.0 * tuning.fits)
    # Each customer who trained paid for every fit from their own budget.
    trained = tuning.validation["customers"]
    assert trained == 120
    spent = scratch_ledger.person_spent(
        "c0000", CUSTOMER, scratch_ledger.show("tuning", CUSTOMER).total
    )
    assert spent is not None and spent.epsilon == pytest.approx(2.0 * tuning.fits)
    assert tuning.default.default and tuning.recommended.finalist
    assert tuning.recommended.value >= tuning.default.value


def test_a_search_over_its_cap_is_refused_before_any_charge(scratch_ledger: Ledger) -> None:
    with pytest.raises(ParameterError, match="max_search_epsilon"):
        _tune(scratch_ledger, max_search_epsilon=5.0)
    assert scratch_ledger.history("tuning", CUSTOMER) == []


def test_a_private_search_without_a_ledger_is_refused() -> None:
    with pytest.raises(ParameterError, match="ledger"):
        tune_recommender(purchases(customers=20), "dp-als", RecommenderTarget(1.0))


def test_an_auc_ceiling_keeps_only_the_epsilons_that_cap_the_attack(scratch_ledger: Ledger) -> None:
    from shopveil.scorecard import max_membership_auc

    ceiling = max_membership_auc(1.0, 1e-6)  # ε = 0.5 is under it, ε = 2 is not
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        tuning = tune_recommender(
            purchases(customers=60),
            "dp-als",
            RecommenderTarget(2.0, membership_auc_ceiling=ceiling),
            space=RecommenderSpace.of({"rank": (4,)}, epsilon_fractions=(0.25, 1.0)),
            context=FitContext(ledger=scratch_ledger, dataset="tuning"),
        )
    assert tuning.recommended.epsilon == 0.5 and tuning.recommended.auc_bound <= ceiling
    assert {c.epsilon for c in tuning.candidates} == {0.5, 2.0}
    # Each fit was charged at its own ε: 0.5 + 2.
    history = scratch_ledger.history("tuning", CUSTOMER)
    assert sorted(r.cost.epsilon for r in history) == pytest.approx([0.5, 2.0])
