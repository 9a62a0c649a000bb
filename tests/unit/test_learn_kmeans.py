"""DP k-means: centroids stay in the declared box, the ledger is charged first, quality."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.dp._accounting import compose_zcdp
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError
from shopveil.learn._features import FEATURE_CAPS, FEATURE_NAMES, CustomerFeatures
from shopveil.learn._kmeans import DPKMeansConfig, KMeansModel, dp_kmeans, kmeans_measurements
from shopveil.store import Store

UNIT = PerCustomer("CustomerID")
DIMS = len(FEATURE_NAMES)
REQUESTS = itertools.count()  # one request id per run: a paid id cannot run again


@pytest.fixture
def ledger(store: Store) -> Ledger:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", UNIT, ZCDP(1e6))
    return ledger


def _seeded(seed: int) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def _features(values: np.ndarray) -> CustomerFeatures:
    return CustomerFeatures(tuple(f"c{i}" for i in range(len(values))), values)


# Fewer examples: each example runs DP k-means and charges a real ledger.
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=arrays(np.float64, st.tuples(st.integers(1, 30), st.just(DIMS)),
                  elements=st.floats(-1e6, 1e9)),
    clusters=st.integers(1, 5),
    rho=st.floats(1e-4, 1e3),
    seed=st.integers(0, 2**32),
)  # fmt: skip
def test_centroids_stay_in_the_declared_box(
    ledger: Ledger, values: np.ndarray, clusters: int, rho: float, seed: int
) -> None:
    config = DPKMeansConfig(clusters, ZCDP(rho), iterations=2)
    request = f"k-{next(REQUESTS)}"
    model = dp_kmeans(
        _features(values), config=config, ledger=ledger, dataset="shop", request_id=request,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    assert model.centroids.shape == (clusters, DIMS)
    assert np.all((model.centroids >= 0) & (model.centroids <= 1))
    assert set(model.assign(_features(values))) <= set(range(clusters))


def test_the_rounds_compose_to_the_budget() -> None:
    config = DPKMeansConfig(4, ZCDP(0.5), iterations=6, count_share=0.3)
    counts, sums = kmeans_measurements(config, DIMS)
    total = compose_zcdp([counts.map(1.0), sums.map(math.sqrt(DIMS) / 2)] * 7)
    assert total.rho <= 0.5 and total.rho == pytest.approx(0.5, rel=1e-6)


def _blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two tight groups of customers, far apart in the scaled box."""
    gen = np.random.default_rng(seed)
    caps = np.array([FEATURE_CAPS[n] for n in FEATURE_NAMES])
    centres = np.array([[0.2] * DIMS, [0.8] * DIMS])
    truth = gen.integers(0, 2, size=3000)
    scaled = np.clip(centres[truth] + gen.normal(0, 0.03, (3000, DIMS)), 0, 1)
    return np.expm1(scaled * np.log1p(caps)), truth


def test_dp_kmeans_finds_well_separated_segments(ledger: Ledger) -> None:
    from sklearn.metrics import adjusted_rand_score

    values, truth = _blobs(0)
    config = DPKMeansConfig(2, ZCDP(0.5), iterations=5)
    model = dp_kmeans(
        _features(values), config=config, ledger=ledger, dataset="shop", request_id="blobs",
        rng=_seeded(3),
    )  # fmt: skip
    assert adjusted_rand_score(truth, model.assign(_features(values))) > 0.95


def test_dp_kmeans_charges_first_and_saves_its_metadata(ledger: Ledger, tmp_path: Path) -> None:
    values, _ = _blobs(1)
    config = DPKMeansConfig(3, ZCDP(0.2), iterations=3)
    before = ledger.show("shop", UNIT).spent
    model = dp_kmeans(
        _features(values), config=config, ledger=ledger, dataset="shop", request_id="seg-1",
        rng=_seeded(4),
    )  # fmt: skip
    assert ledger.show("shop", UNIT).spent.rho == pytest.approx(before.rho + 0.2)  # type: ignore[union-attr]
    assert model.privacy.mechanism == "dp-kmeans" and model.privacy.budget == ZCDP(0.2)
    assert model.privacy.params["clusters"] == 3
    with pytest.raises(PrivacyError, match="already paid"):
        dp_kmeans(
            _features(values), config=config, ledger=ledger, dataset="shop",
            request_id="seg-1", rng=_seeded(5),
        )  # fmt: skip
    model.save(tmp_path / "seg.npz")
    loaded = KMeansModel.load(tmp_path / "seg.npz")
    np.testing.assert_array_equal(loaded.centroids, model.centroids)
    assert loaded.privacy == model.privacy and loaded.names == model.names


def test_a_refused_charge_computes_nothing(store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("shop", UNIT, ApproxDP(0.5, 1e-6))
    values, _ = _blobs(2)

    class Untouchable(np.random.Generator):
        def uniform(self, *args: object, **kwargs: object) -> np.ndarray:  # type: ignore[override]
            raise AssertionError("k-means drew its initial centroids before the charge")

    with pytest.raises(BudgetExceeded):
        dp_kmeans(
            _features(values), config=DPKMeansConfig(3, ZCDP(1.0)), ledger=ledger,
            dataset="shop", request_id="seg-2", rng=Untouchable(np.random.PCG64(0)),
        )  # fmt: skip
    assert ledger.show("shop", UNIT).spent == ApproxDP(0.0, 0.0)


def test_config_is_checked() -> None:
    with pytest.raises(ParameterError, match="clusters"):
        DPKMeansConfig(0, ZCDP(1.0))
    with pytest.raises(ParameterError, match="ZCDP"):
        DPKMeansConfig(3, ApproxDP(1.0, 1e-6))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="count_share"):
        DPKMeansConfig(3, ZCDP(1.0), count_share=1.0)
