"""Devices → regional edge → cloud: the cloud's model is the flat run's, the DP run is
charged once per customer as the flat one, and the cloud receives one update per region;
a client's secure-aggregation session survives being kept between messages as arrays."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

from _federated_data import synthetic

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, PeopleKey
from shopveil.federated import (
    DPFedAvgConfig,
    FederatedRun,
    LocalTraining,
    Partition,
    simulate,
    simulate_hierarchy,
)
from shopveil.federated._secagg import MaskingClient, unmask_sum
from shopveil.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::shopveil._core.rng.InsecureRandomnessWarning")

DATA = synthetic(80, seed=5)
UNIT = PerCustomer("customer")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'fl.db'}")
    ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
    ledger.set_budget("retail", UNIT, ApproxDP(10.0, 1e-4))
    yield ledger
    store.close()


@pytest.mark.parametrize("secure", [False, True])
def test_the_cloud_trains_the_flat_model_with_one_update_per_region(secure: bool) -> None:
    run = FederatedRun(rounds=2, secure_aggregation=secure)
    flat = simulate(DATA, run, how=Partition.CUSTOMER, seed=1)
    tiered = simulate_hierarchy(DATA, run, clients=3, seed=1)
    np.testing.assert_allclose(tiered.weights, flat.weights, atol=1e-5 if secure else 1e-12)
    assert tiered.clients == 3 and tiered.devices == flat.clients == int(DATA.train.sum())
    # The devices send the edges what they sent the flat cloud; the cloud gets 3 vectors.
    assert tiered.device_bytes_per_round == flat.bytes_per_round
    width = (DATA.dim + 1) if secure else DATA.dim
    assert tiered.bytes_per_round == 3 * width * 8


def test_dp_through_edges_is_the_flat_release_charged_once(ledger: Ledger) -> None:
    dp = DPFedAvgConfig(ApproxDP(4.0, 1e-5))
    run = FederatedRun(rounds=2, dp=dp, training=LocalTraining(epochs=5))
    flat = simulate(
        DATA, run, how=Partition.CUSTOMER, ledger=ledger, dataset="retail", request_id="f",
        seed=3,
    )  # fmt: skip
    tiered = simulate_hierarchy(DATA, run, ledger=ledger, dataset="retail", request_id="h", seed=3)
    # Same integer sum, same noise draw: the same model, at the same noise multiplier.
    np.testing.assert_array_equal(tiered.weights, flat.weights)
    assert tiered.noise_multiplier == flat.noise_multiplier
    someone = DATA.customers[int(np.flatnonzero(DATA.train)[0])]
    spent = ledger.person_spent(someone, UNIT, ApproxDP(10.0, 1e-4))
    assert isinstance(spent, ApproxDP) and spent.epsilon == pytest.approx(8.0)  # 4 + 4


def test_the_hierarchy_needs_one_customer_per_device() -> None:
    from shopveil.errors import ParameterError

    with pytest.raises(ParameterError, match="--partition customer"):
        simulate_hierarchy(DATA, FederatedRun(rounds=1), how=Partition.COUNTRY)


def test_a_session_kept_as_arrays_between_steps_masks_and_unmasks_the_same() -> None:
    n, threshold = 5, 3
    sessions = {i: MaskingClient(i) for i in range(1, n + 1)}
    keys = {i: s.public_key() for i, s in sessions.items()}

    def kept(session: MaskingClient) -> MaskingClient:
        return MaskingClient.restore(session.export())  # a fresh process per message

    sealed = {}
    for i in sessions:
        sessions[i] = kept(sessions[i])
        sealed[i] = sessions[i].make_shares(keys, threshold)
    for holder in sessions:
        sessions[holder] = kept(sessions[holder])
        for owner, boxes in sealed.items():
            if holder in boxes:
                sessions[holder].keep_shares(owner, boxes[holder])
    values = {i: np.arange(6, dtype=np.int64) * i for i in sessions}
    masked = {i: kept(sessions[i]).masked(values[i]) for i in range(1, n)}  # client 5 drops
    revealed = {i: kept(sessions[i]).reveal({1, 2, 3, 4}, {5}) for i in range(1, n)}
    total = unmask_sum(masked, keys, revealed, threshold)
    np.testing.assert_array_equal(total, sum(values[i] for i in range(1, n)))
    assert not np.array_equal(masked[1].view(np.int64), values[1])
