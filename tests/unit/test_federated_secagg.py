"""Pairwise-masking secure aggregation: the server learns the sum and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from shopveil.errors import PrivacyError
from shopveil.federated._secagg import MaskingClient, prg, reconstruct, share, unmask_sum


def _round(n: int, threshold: int) -> tuple[dict[int, MaskingClient], dict[int, bytes]]:
    clients = {i: MaskingClient(i) for i in range(1, n + 1)}
    keys = {i: c.public_key() for i, c in clients.items()}
    sealed = {owner: client.make_shares(keys, threshold) for owner, client in clients.items()}
    for owner, boxes in sealed.items():
        for holder, box in boxes.items():
            clients[holder].keep_shares(owner, box)
    return clients, keys


def _inputs(n: int, dim: int = 16) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(5)
    return {i: rng.integers(-(10**9), 10**9, dim) for i in range(1, n + 1)}


def test_the_sum_is_exact_and_a_round_survives_20_percent_dropouts() -> None:
    n, threshold = 10, 6
    clients, keys = _round(n, threshold)
    x = _inputs(n)
    dropped = {4, 9}  # 20%: they shared their keys, then left before sending their input
    masked = {i: c.masked(x[i]) for i, c in clients.items() if i not in dropped}
    survived = set(masked)
    revealed = {i: clients[i].reveal(survived, dropped) for i in survived}
    total = unmask_sum(masked, keys, revealed, threshold)
    assert np.array_equal(total, sum(x[i] for i in survived))


def test_a_masked_input_tells_the_server_nothing_about_the_input() -> None:
    """The server's view of one client is uniform: two very different inputs give masked
    vectors with the same bit statistics, unrelated to the input."""
    n = 5
    clients, _ = _round(n, 3)
    zero = clients[1].masked(np.zeros(4096, dtype=np.int64))
    clients2, _ = _round(n, 3)
    big = clients2[1].masked(np.full(4096, 12345, dtype=np.int64))
    for view in (zero, big):
        bits = np.unpackbits(view.view(np.uint8)).mean()
        assert abs(bits - 0.5) < 0.005  # 262,144 bits: 0.005 is 5 standard errors
    # Not the input, nor the input plus a constant the server could strip.
    assert not np.any(zero == 0)
    assert len(np.unique(big.astype(np.int64) - 12345)) == 4096


def test_the_attack_of_asking_for_both_shares_is_refused() -> None:
    """A server that claims client 2 both survived (seed share) and dropped (key share)
    would strip every mask from its input. First reproduce the attack against a naive
    client that answers both, then check the real client refuses."""
    n, threshold = 5, 3
    clients, keys = _round(n, threshold)
    x = _inputs(n)
    y2 = clients[2].masked(x[2])
    # The attack, with shares from a client that does not keep track.
    seed = reconstruct({h: clients[h]._held[2][1] for h in (1, 3, 4)})
    key = reconstruct({h: clients[h]._held[2][0] for h in (1, 3, 4)})
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from shopveil.federated._secagg import _pair_seed

    private = X25519PrivateKey.from_private_bytes(key)
    recovered = y2 - prg(seed, y2.size)
    for peer in (1, 3, 4, 5):
        mask = prg(_pair_seed(private, keys[peer]), y2.size)
        recovered = recovered - mask if peer > 2 else recovered + mask
    assert np.array_equal(recovered.view(np.int64), x[2])  # the attack works on naive clients
    # Real clients refuse: in one request, and across two requests.
    with pytest.raises(PrivacyError, match="both shares"):
        clients[1].reveal({2, 3}, {2})
    clients[3].reveal({2}, set())
    with pytest.raises(PrivacyError, match="revealed before"):
        clients[3].reveal(set(), {2})


def test_the_server_cannot_open_the_shares_it_routes() -> None:
    """What the server relays in step 2 is sealed to its holder: the share bytes do not
    appear in it, and a box opened by anyone but its holder (or altered) is refused."""
    clients, keys = _round(4, 3)
    boxes = clients[1].make_shares(keys, 3)
    for holder, box in boxes.items():
        key_share, seed_share = clients[holder]._held[1]
        assert key_share.to_bytes(66, "big")[-16:] not in box
        assert seed_share.to_bytes(66, "big")[-16:] not in box
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        clients[3].keep_shares(1, boxes[2])  # not its box
    tampered = bytearray(boxes[2])
    tampered[20] ^= 1
    with pytest.raises(InvalidTag):
        clients[2].keep_shares(1, bytes(tampered))


def test_fewer_shares_than_the_threshold_reveal_nothing() -> None:
    secret = bytes(range(32))
    shares = share(secret, [1, 2, 3, 4, 5], 3)
    assert reconstruct({h: shares[h] for h in (1, 4, 5)}) == secret
    assert reconstruct({h: shares[h] for h in (1, 4)}) != secret


def test_too_many_dropouts_fail_the_round_loudly() -> None:
    n, threshold = 5, 4
    clients, keys = _round(n, threshold)
    x = _inputs(n)
    dropped = {1, 2}
    masked = {i: c.masked(x[i]) for i, c in clients.items() if i not in dropped}
    revealed = {i: clients[i].reveal(set(masked), dropped) for i in masked}
    with pytest.raises(PrivacyError, match="threshold"):
        unmask_sum(masked, keys, revealed, threshold)
