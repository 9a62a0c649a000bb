"""Paillier aggregation: the key holder decrypts the exact sum, the server reads nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("phe", reason="the fl extra (phe) is not installed")

from shopveil.errors import PrivacyError
from shopveil.federated._homomorphic import (
    SLOTS,
    KeyHolder,
    add_encrypted,
    ciphertext_bytes,
    encrypt_vector,
)


@pytest.fixture(scope="module")
def holder() -> KeyHolder:
    return KeyHolder(min_clients=2)


_round = iter(range(10**6))


@settings(max_examples=10, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(-(2**62), 2**62), min_size=SLOTS + 3, max_size=SLOTS + 3),
            min_size=n, max_size=n,
        )
    )
)  # fmt: skip
def test_the_sum_is_exact_across_packed_slots(holder: KeyHolder, rows: list[list[int]]) -> None:
    vectors = [np.array(r, dtype=np.int64) for r in rows]
    encrypted = [encrypt_vector(holder.public, v) for v in vectors]
    assert encrypted[0].nbytes == ciphertext_bytes(SLOTS + 3) == 2 * 512
    total = add_encrypted(holder.public, encrypted)
    got = holder.decrypt_sum(total, len(vectors), SLOTS + 3, next(_round))
    assert np.array_equal(got, np.sum(vectors, axis=0))


def test_the_server_cannot_confirm_a_guessed_update(holder: KeyHolder) -> None:
    """A server that knows the public key encrypts the update it guesses and compares.
    Reproduce it against encryption without fresh randomness (r = 1), where it works,
    then check the real ciphertexts match neither the guess nor each other."""
    from phe import paillier

    update = np.array([3, -1, 0, 7], dtype=np.int64)
    key = paillier.PaillierPublicKey(int.from_bytes(holder.public.tobytes(), "big"))
    packed = sum(((int(v) + 2**63) % 2**64) << (80 * k) for k, v in enumerate(update.tolist()))
    assert key.raw_encrypt(packed, r_value=1) == key.raw_encrypt(packed, r_value=1)  # the attack
    sent = encrypt_vector(holder.public, update)
    again = encrypt_vector(holder.public, update)
    guess = int(key.raw_encrypt(packed)).to_bytes(512, "big")
    assert sent.tobytes() != again.tobytes() and sent.tobytes() != guess
    bits = np.unpackbits(sent).mean()
    assert abs(bits - 0.5) < 0.05  # 4,096 bits of ciphertext: no visible structure


def test_the_key_holder_decrypts_only_aggregates_once_a_round(holder: KeyHolder) -> None:
    one = encrypt_vector(holder.public, np.array([42], dtype=np.int64))
    with pytest.raises(PrivacyError, match="fewer than min_clients=2"):
        holder.decrypt_sum(one, 1, 1, round_id=-1)
    two = add_encrypted(holder.public, [one, encrypt_vector(holder.public, np.array([1]))])
    assert holder.decrypt_sum(two, 2, 1, round_id=-2).tolist() == [43]
    with pytest.raises(PrivacyError, match="decrypted before"):
        holder.decrypt_sum(two, 2, 1, round_id=-2)


def test_a_flower_run_with_homomorphic_aggregation_trains_the_secure_aggregation_model(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both protocols add the same fixed-point integers, so they end on the same weights;
    a client that drops out or sends garbage leaves the round to the others."""
    import logging

    pytest.importorskip("flwr", reason="the fl extra (Flower) is not installed")
    from _federated_data import synthetic
    from flwr.app import Array, ArrayRecord, Context, Message, RecordDict
    from flwr.clientapp import ClientApp

    from shopveil.federated import FederatedRun, Partition, partition
    from shopveil.federated._client import client_app
    from shopveil.federated._grid import InProcessGrid
    from shopveil.federated._server import train_on_grid

    data = synthetic(300, seed=5)
    shards = partition(data, Partition.COUNTRY)
    honest = client_app(data, shards, seed=3)
    ends = {}
    for name, run in {
        "secure": FederatedRun(rounds=2, secure_aggregation=True),
        "homomorphic": FederatedRun(rounds=2, homomorphic=True),
    }.items():
        ends[name], reports = train_on_grid(InProcessGrid([honest] * len(shards)), data.dim, run)
        assert [r.replies for r in reports] == [len(shards)] * 2
    np.testing.assert_array_equal(ends["homomorphic"], ends["secure"])
    assert reports[0].uplink_bytes == len(shards) * 512

    def bad(kind: str) -> ClientApp:
        app = ClientApp()

        @app.train()
        def train(message: Message, context: Context) -> Message:
            if kind == "gone":
                raise ConnectionError("dropped mid-round")
            record = ArrayRecord({"encrypted": Array(np.zeros((1, 511), dtype=np.uint8))})
            return Message(RecordDict({"arrays": record}), reply_to=message)

        return app

    apps = [*[honest] * (len(shards) - 2), bad("garbage"), bad("gone")]
    with caplog.at_level(logging.WARNING, "shopveil.federated"):
        weights, reports = train_on_grid(
            InProcessGrid(apps), data.dim, FederatedRun(rounds=1, homomorphic=True)
        )
    assert reports[0].replies == len(shards) - 2 and reports[0].rejected == 1
    assert "expected (1, 512) uint8: rejected" in caplog.text
    assert np.all(np.isfinite(weights)) and np.any(weights != 0)
