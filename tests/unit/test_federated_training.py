"""Federated churn training through Flower's ClientApp: FedAvg, FedProx, DP, secure
aggregation and compression, and clients that misbehave."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")

from _federated_data import synthetic
from flwr.app import Array, ArrayRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger, PeopleKey
from shopveil.errors import BudgetExceeded
from shopveil.federated import (
    ClipMode,
    Compression,
    Compressor,
    DPFedAvgConfig,
    FederatedRun,
    LocalTraining,
    Partition,
    simulate,
)
from shopveil.federated._client import client_app
from shopveil.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::shopveil._core.rng.InsecureRandomnessWarning")

DATA = synthetic()
UNIT = PerCustomer("customer")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'fl.db'}")
    ledger = Ledger(store, people_key=PeopleKey(secrets.token_bytes(32)))
    ledger.set_budget("retail", UNIT, ApproxDP(10.0, 1e-4))
    yield ledger
    store.close()


@pytest.mark.parametrize("mu", [0.0, 0.1])
def test_fedavg_and_fedprox_by_country_match_the_central_model(mu: float) -> None:
    run = FederatedRun(rounds=15, training=LocalTraining(mu=mu))
    result = simulate(DATA, run, how=Partition.COUNTRY, seed=1)
    assert result.clients == 6
    assert (
        "United Kingdom" in result.per_country_auc
    )  # per-client metrics, where enough test customers
    assert result.central_auc > 0.7
    assert result.auc > result.central_auc - 0.02
    assert result.bytes_per_round == 6 * 10 * 8  # six clients, ten float64 weights


def test_dp_fedavg_by_customer_charges_the_ledger_once(ledger: Ledger) -> None:
    dp = DPFedAvgConfig(ApproxDP(8.0, 1e-5), mode=ClipMode.ADAPTIVE)
    run = FederatedRun(rounds=10, dp=dp, training=LocalTraining(epochs=5))
    result = simulate(
        DATA, run, how=Partition.CUSTOMER, ledger=ledger, dataset="retail", request_id="r1", seed=2
    )
    assert result.clients == int(DATA.train.sum())
    assert result.epsilon == 8.0 and result.noise_multiplier is not None
    assert result.auc > 0.6  # learned (small data: the Online Retail figure is in the benchmark)
    someone = DATA.customers[int(np.flatnonzero(DATA.train)[0])]
    spent = ledger.person_spent(someone, UNIT, ApproxDP(10.0, 1e-4))
    assert isinstance(spent, ApproxDP) and spent.epsilon == pytest.approx(8.0)
    # A second run of 8 does not fit in a budget of 10: every customer is left out.
    with pytest.raises(BudgetExceeded):
        simulate(
            DATA, run, how=Partition.CUSTOMER, ledger=ledger, dataset="retail", request_id="r2"
        )


def test_secure_aggregation_gives_the_plain_result() -> None:
    plain = simulate(DATA, FederatedRun(rounds=3), how=Partition.COUNTRY, seed=4)
    masked = simulate(
        DATA, FederatedRun(rounds=3, secure_aggregation=True), how=Partition.COUNTRY, seed=4
    )
    np.testing.assert_allclose(masked.weights, plain.weights, atol=1e-5)


def test_compression_shrinks_the_uplink_8x_at_little_auc_loss() -> None:
    plain = simulate(DATA, FederatedRun(rounds=15), how=Partition.COUNTRY, seed=5)
    setting = Compression(Compressor.QUANTIZE, bits=4)
    small = simulate(
        DATA, FederatedRun(rounds=15, compression=setting), how=Partition.COUNTRY, seed=5
    )
    assert plain.bytes_per_round / small.bytes_per_round >= 8
    assert small.auc > plain.auc - 0.01


def _bad(kind: str) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        if kind == "silent":
            time.sleep(3)
        if kind == "raises":
            raise ConnectionError("gone")
        arrays = {
            "nan": {"update": np.full(10, np.nan)},
            "shape": {"update": np.zeros(7)},
            "dtype": {"update": np.zeros(10, dtype=np.int32)},
            "malformed": {"something": np.zeros(10)},
        }[kind]
        record = ArrayRecord({k: Array(v) for k, v in arrays.items()})
        return Message(RecordDict({"arrays": record}), reply_to=message)

    return app


@pytest.mark.parametrize("kind", ["nan", "shape", "dtype", "malformed", "silent", "raises"])
def test_a_bad_client_is_rejected_logged_and_the_round_goes_on(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    def apps(shards: list[np.ndarray]) -> list[object]:
        honest = client_app(DATA, shards, seed=6)
        return [_bad(kind), *[honest] * (len(shards) - 1)]

    run = FederatedRun(rounds=2, timeout=2.0 if kind == "silent" else None)
    with caplog.at_level(logging.WARNING, "shopveil.federated"):
        result = simulate(DATA, run, how=Partition.COUNTRY, seed=6, apps=apps)
    assert "node 1" in caplog.text
    assert np.all(np.isfinite(result.weights)) and np.any(result.weights != 0)
    if kind in ("nan", "shape", "dtype", "malformed"):
        assert result.rejected == 2
        assert "rejected" in caplog.text
    assert result.auc > 0.6


def test_secure_aggregation_completes_with_20_percent_dropping_mid_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """10 clients; 2 take part in the key exchange, then vanish before their input."""
    data = synthetic(n=900, seed=9)
    from shopveil.federated._data import partition

    shards = partition(data, Partition.CUSTOMER, clients=10)

    def apps(shards: list[np.ndarray]) -> list[object]:
        honest = client_app(data, shards, seed=7)
        return [_bad("raises"), _bad("raises"), *[honest] * 8]

    # The dropping clients still answer the key steps: they are the honest app there.
    def with_keys(shards: list[np.ndarray]) -> list[object]:
        honest = client_app(data, shards, seed=7)
        built = apps(shards)
        return [_keys_then_drop(honest) if i < 2 else b for i, b in enumerate(built)]

    run = FederatedRun(rounds=2, secure_aggregation=True)
    with caplog.at_level(logging.WARNING, "shopveil.federated"):
        result = simulate(data, run, how=Partition.CUSTOMER, clients=10, seed=7, apps=with_keys)
    assert "2 of 10 clients dropped out" in caplog.text
    assert np.all(np.isfinite(result.weights)) and np.any(result.weights != 0)
    assert len(shards) == 10


def _keys_then_drop(honest: ClientApp) -> ClientApp:
    def call(message: Message, context: Context) -> Message:
        if message.metadata.message_type == "train":
            raise ConnectionError("dropped mid-round")
        reply: Message = honest(message, context)
        return reply

    app = ClientApp()
    app._call = call
    return app
