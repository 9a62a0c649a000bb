"""ServedRecommender: one customer at a time, the same lists as ``recommend``."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger, PeopleKey
from shopveil.errors import ParameterError
from shopveil.learn import (
    Catalogue,
    FitContext,
    FittedRecommender,
    NoSignalWarning,
    ServedRecommender,
    build_recommender,
    history_of,
    load_interactions,
    recommend,
    temporal_split,
)
from shopveil.learn._recommend import _rows_of
from shopveil.store import Store

# Every model the registry builds, except dp-mf (DP-SGD: its own, slower tests). The
# half-life options make the history recency-weighted, which the served row must match.
BUILDS = {
    "popularity": (None, {}),
    "dp-popularity": (8.0, {}),
    "buy-again": (8.0, {"history_half_life_days": 30.0}),
    "itemknn": (None, {}),
    "als": (None, {"factors": 8, "iterations": 3}),
    "dp-als": (8.0, {}),
    "dp-cobuy": (8.0, {"repeat_half_life_days": 7.0}),
}
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fitted(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, FittedRecommender], Catalogue]]:
    folder = tmp_path_factory.mktemp("served")
    pacsv.write_csv(bundled_online_retail(), folder / "retail.csv")
    catalogue = Catalogue.from_table(product_catalogue())
    data = load_interactions(folder / "retail.csv", catalogue=catalogue)
    train, _ = temporal_split(data, datetime(2010, 12, 9))
    store = Store.open(f"sqlite:///{folder / 'ledger.db'}")
    ledger = Ledger(
        store, default_total=ApproxDP(1e9, 0.5), people_key=PeopleKey(secrets.token_bytes(32))
    )
    models = {}
    with pytest.warns(InsecureRandomnessWarning):
        rng = insecure_seeded_rng(5)
    for name, (epsilon, options) in BUILDS.items():
        config = build_recommender(name, epsilon, options)
        with warnings.catch_warnings():  # a DP fit may warn that its signal is weak
            warnings.simplefilter("ignore", NoSignalWarning)
            models[name] = config.fit(train, FitContext(ledger=ledger, dataset=name, rng=rng))
    yield models, catalogue
    store.close()


def _events(catalogue: Catalogue) -> st.SearchStrategy[list[tuple[str, datetime]]]:
    items = [str(i) for i in catalogue.item_ids[:300]]
    item = st.one_of(st.sampled_from(items), st.just("not-an-item"))
    # Microseconds and whole days both matter: recommend counts ages in whole seconds.
    at = st.integers(0, 400 * 86_400_000_000).map(lambda us: NOW - timedelta(microseconds=us))
    return st.lists(st.tuples(item, at), max_size=12)


@pytest.mark.parametrize("name", list(BUILDS))
def test_served_lists_are_recommends_lists(
    name: str, fitted: tuple[dict[str, FittedRecommender], Catalogue]
) -> None:
    models, catalogue = fitted
    served = ServedRecommender(models[name], catalogue)

    @settings(max_examples=40, deadline=None)
    @given(events=_events(catalogue), k=st.integers(1, 30))
    def check(events: list[tuple[str, datetime]], k: int) -> None:
        history = history_of("17850", events, catalogue)
        (expected,) = recommend(models[name], catalogue, ["17850.0"], history=history, k=k)
        assert served.recommend(17850, events, k=k) == expected
        rows = _rows_of(history, ["17850"], len(catalogue), models[name])
        assert np.array_equal(served._row(events).toarray(), rows.toarray())

    check()


def test_a_new_basket_changes_the_list_and_unknown_items_do_not(
    fitted: tuple[dict[str, FittedRecommender], Catalogue],
) -> None:
    models, catalogue = fitted
    served = ServedRecommender(models["dp-cobuy"], catalogue)
    cold = served.recommend("c1", [("not-an-item", NOW)])
    assert not cold.known and cold.purchases == 0
    assert cold == served.recommend("c1", [])
    item = str(catalogue.item_ids[12])
    warm = served.recommend("c1", [(item, NOW)])
    assert warm.known and warm.purchases == 1 and warm.items != cold.items
    assert served.index([item, "not-an-item"]) == [12, -1]


def test_bad_k_and_naive_times_are_refused(
    fitted: tuple[dict[str, FittedRecommender], Catalogue],
) -> None:
    models, catalogue = fitted
    served = ServedRecommender(models["popularity"], catalogue)
    for k in (0, True, 2.0):
        with pytest.raises(ParameterError, match="k must be an int"):
            served.recommend("c1", [], k=k)  # type: ignore[arg-type]
    item = str(catalogue.item_ids[0])
    with pytest.raises(ParameterError, match="time zone"):
        served.recommend("c1", [(item, datetime(2026, 1, 1))])
