"""PATE: disjoint customer shards, noisy aggregation, ledger charges and window refresh."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from _people import PEOPLE_KEY
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.learn._model_file import load_model
from shopveil.learn._pate import (
    Window,
    assign_shards,
    release_labels,
    train_student,
)
from shopveil.learn._pate_aggregate import GNMaxConfig, aggregate_votes
from shopveil.store import Store
from shopveil.store._schema import dp_charges

UNIT = PerCustomer("CustomerID")
KEY = b"k" * 32
JAN = Window(datetime(2011, 1, 1), datetime(2011, 2, 1))
CONFIG = GNMaxConfig(sigma=6.0, threshold=14.0, threshold_sigma=8.0)
BUDGET = ApproxDP(8.0, 1e-6)
FEB = Window(datetime(2011, 2, 1), datetime(2011, 3, 1))


def _seeded(seed: int) -> np.random.Generator:
    """A seeded generator for reproducible tests; its warning is expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        return insecure_seeded_rng(seed)


@pytest.fixture
def seeded() -> Callable[[int], np.random.Generator]:
    return _seeded


def _charges(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(dp_charges)).scalar_one())


def _data(
    gen: np.random.Generator, n: int, prefix: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two rows per customer, label = whether the features sum above zero."""
    x = gen.normal(size=(2 * n, 2))
    y = (x.sum(axis=1) > 0).astype(np.int64)
    customers = [f"{prefix}{i // 2}" for i in range(2 * n)]
    return x, y, customers


ids = st.lists(st.text("abcdef0123", min_size=1, max_size=4), min_size=1, max_size=60)


@given(customers=ids, n_teachers=st.integers(2, 12))
def test_every_customer_is_in_exactly_one_shard(customers: list[str], n_teachers: int) -> None:
    shards = assign_shards(customers, n_teachers, key=KEY)
    assert np.all((shards >= 0) & (shards < n_teachers))
    for cid in set(customers):
        rows = [i for i, c in enumerate(customers) if c == cid]
        assert len(set(shards[rows].tolist())) == 1
    # removing one customer moves no one else (needed for add/remove neighbours)
    gone = customers[0]
    rest = [c for c in customers if c != gone]
    kept = shards[[c != gone for c in customers]]
    np.testing.assert_array_equal(assign_shards(rest, n_teachers, key=KEY), kept)


def test_gnmax_returns_a_clear_consensus(seeded: Callable[[int], np.random.Generator]) -> None:
    votes = np.tile([45, 3, 2], (300, 1))
    result = aggregate_votes(votes, GNMaxConfig(sigma=8.0), ApproxDP(1e4, 1e-5), rng=seeded(1))
    assert result.answered == 300
    assert np.mean(result.labels == 0) > 0.99
    assert result.dependent.epsilon < result.independent.epsilon


def test_a_higher_threshold_answers_fewer_queries(
    seeded: Callable[[int], np.random.Generator],
) -> None:
    gen = seeded(2)
    top = gen.integers(10, 50, size=400)
    votes = np.stack([top, 50 - top], axis=1)
    answered = []
    for threshold in (20.0, 35.0, 45.0):
        config = GNMaxConfig(sigma=5.0, threshold=threshold, threshold_sigma=4.0)
        result = aggregate_votes(votes, config, ApproxDP(1e4, 1e-5), rng=seeded(3))
        assert result.checked == 400
        answered.append(result.answered)
    assert answered[0] > answered[1] > answered[2]


@given(eps=st.floats(0.5, 20.0), sigma=st.floats(2.0, 40.0))
# Fewer examples: each example aggregates 200 queries under RDP accounting.
@settings(max_examples=30)
def test_answering_stops_before_the_budget_is_passed(eps: float, sigma: float) -> None:
    votes = np.tile([30, 20], (200, 1))
    config = GNMaxConfig(sigma=sigma, threshold=28.0, threshold_sigma=sigma)
    budget = ApproxDP(eps, 1e-5)
    try:
        result = aggregate_votes(votes, config, budget, rng=_seeded(0))
    except ParameterError:
        return  # one query alone did not fit: nothing was answered
    assert result.independent.epsilon <= eps
    assert result.answered <= result.checked <= 200


def _release(
    ledger: Ledger, window: Window, seed: int, gen: Callable[[int], np.random.Generator]
) -> tuple[object, np.ndarray]:
    x, y, customers = _data(gen(seed), 600, f"{window.start.month}-")
    queries = gen(seed + 100).normal(size=(150, 2))
    release = release_labels(
        ledger, dataset="orders", unit=UNIT, name="churn", window=window,
        features=x, labels=y, customers=customers, queries=queries, n_labels=2,
        config=CONFIG,
        budget=BUDGET, n_teachers=20, rng=gen(seed + 200),
    )  # fmt: skip
    return release, queries


def test_labels_are_charged_once_and_a_rerelease_costs_nothing(
    store: Store, seeded: Callable[[int], np.random.Generator]
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", UNIT, ApproxDP(20.0, 1e-5))
    first, queries = _release(ledger, JAN, 1, seeded)
    assert not first.replayed and first.answered > 0  # type: ignore[attr-defined]
    assert first.charged.epsilon <= BUDGET.epsilon  # type: ignore[attr-defined]
    assert first.data_dependent.epsilon <= first.charged.epsilon  # type: ignore[attr-defined]
    spent = ledger.show("orders", UNIT).spent
    assert spent.epsilon == pytest.approx(first.charged.epsilon)  # type: ignore[attr-defined]
    again, _ = _release(ledger, JAN, 1, seeded)
    assert again.replayed and again.data_dependent is None  # type: ignore[attr-defined]
    np.testing.assert_array_equal(again.labels, first.labels)  # type: ignore[attr-defined]
    assert ledger.show("orders", UNIT).spent == spent
    assert _charges(store) == 1
    # the labels agree with the rule the teachers learned on most answered queries
    mask = first.labels >= 0  # type: ignore[attr-defined]
    truth = (queries.sum(axis=1) > 0).astype(np.int64)
    assert np.mean(first.labels[mask] == truth[mask]) > 0.9  # type: ignore[attr-defined]


def test_a_new_window_costs_only_its_own_queries(
    store: Store, seeded: Callable[[int], np.random.Generator], tmp_path: Path
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", UNIT, ApproxDP(20.0, 1e-5))
    jan, jan_q = _release(ledger, JAN, 1, seeded)
    feb, feb_q = _release(ledger, FEB, 2, seeded)
    jan_again, _ = _release(ledger, JAN, 1, seeded)
    spent = ledger.show("orders", UNIT).spent
    expected = jan.charged.epsilon + feb.charged.epsilon  # type: ignore[attr-defined]
    assert spent.epsilon == pytest.approx(expected)
    assert _charges(store) == 2
    student = train_student(
        [jan_again, feb],  # type: ignore[list-item]
        [jan_q, feb_q],
        dataset="orders",
        unit=UNIT,
        config=CONFIG,
    )
    assert student.privacy.epsilon == pytest.approx(expected)
    assert (student.privacy.window_start, student.privacy.window_end) == (JAN.start, FEB.end)
    test_x = seeded(9).normal(size=(500, 2))
    accuracy = np.mean(student.predict(test_x) == (test_x.sum(axis=1) > 0))
    assert accuracy > 0.9
    saved = load_model(student.save(tmp_path / "student.npz"), kind="pate-student-linear")
    assert saved.privacy == student.privacy
    assert saved.privacy.mechanism == "pate-confident-gnmax"
    np.testing.assert_array_equal(saved.arrays["coef"], student.model.coef_)


def test_a_refused_budget_releases_no_labels(
    store: Store, seeded: Callable[[int], np.random.Generator]
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", UNIT, ApproxDP(5.0, 1e-5))
    with pytest.raises(BudgetExceeded):
        _release(ledger, JAN, 1, seeded)
    assert _charges(store) == 0
    assert ledger.show("orders", UNIT).spent.epsilon == 0


def test_rereleasing_a_window_with_other_queries_is_refused(
    store: Store, seeded: Callable[[int], np.random.Generator]
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("orders", UNIT, ApproxDP(10.0, 1e-5))
    _release(ledger, JAN, 1, seeded)
    with pytest.raises(ParameterError, match="other queries"):
        _release(ledger, JAN, 5, seeded)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sigma": 0.0},
        {"sigma": 1.0, "threshold": 5.0},
        {"sigma": 1.0, "threshold": 5.0, "threshold_sigma": -1.0},
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ParameterError):
        GNMaxConfig(**kwargs)
