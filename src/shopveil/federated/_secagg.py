"""Secure aggregation by pairwise masking, with dropout recovery (Bonawitz et al. 2017).

The server learns the sum of the survivors' integer vectors (mod 2⁶⁴) and nothing else
about any one of them, as long as it is honest-but-curious and fewer than ``threshold``
clients collude with it. One round:

1. **Keys.** Client ``i`` makes an X25519 key pair and a random 32-byte self-mask seed
   ``b_i``, and publishes its public key.
2. **Shares.** It splits its private key and ``b_i`` into Shamir shares (threshold
   ``t``) over GF(2⁵²¹ − 1), one pair per peer, each pair encrypted to its peer with
   AES-256-GCM under ``HKDF(X25519(sk_i, pk_j))`` (another label than the masks'): the
   server routes them and cannot read them.
3. **Masked input.** ``y_i = x_i + PRG(b_i) + Σ_{j>i} PRG(s_ij) − Σ_{j<i} PRG(s_ij)``
   with ``s_ij = HKDF(X25519(sk_i, pk_j))``; PRG is AES-256-CTR. Clients may drop
   out before sending it.
4. **Unmask.** Each survivor reveals, for every peer, the share of ``b_j`` if the peer
   survived or the share of ``sk_j`` if it dropped, never both (a client asked for both
   refuses: :class:`~shopveil.errors.PrivacyError`). With ``t`` shares the server
   removes the self masks of survivors and the pairwise masks towards dropped clients.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shopveil.errors import ParameterError, PrivacyError

__all__ = ["SEALED", "MaskingClient", "reconstruct", "share", "unmask_sum"]

PRIME = 2**521 - 1
"""The Shamir field: a Mersenne prime above every 32-byte secret."""


def share(secret: bytes, holders: list[int], threshold: int) -> dict[int, int]:
    """Shamir shares of ``secret``: ``f(h)`` for each holder id ``h >= 1``."""
    if not 1 <= threshold <= len(holders):
        raise ParameterError(f"threshold must be in [1, {len(holders)}], got {threshold}")
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [secrets.randbelow(PRIME) for _ in range(threshold - 1)]
    out = {}
    for h in holders:
        value = 0
        for c in reversed(coefficients):
            value = (value * h + c) % PRIME
        out[h] = value
    return out


def reconstruct(shares: dict[int, int], size: int = 32) -> bytes:
    """The secret from shares (Lagrange at 0); wrong, not an error, below the threshold."""
    total = 0
    for h, value in shares.items():
        num, den = 1, 1
        for other in shares:
            if other != h:
                num = num * (-other) % PRIME
                den = den * (h - other) % PRIME
        total = (total + value * num * pow(den, -1, PRIME)) % PRIME
    return (total % (1 << (8 * size))).to_bytes(size, "big")


def prg(seed: bytes, size: int) -> np.ndarray:
    """``size`` uint64 words of AES-256-CTR keystream under ``seed``."""
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(b"\0" * 16)).encryptor()
    return np.frombuffer(encryptor.update(b"\0" * (8 * size)), dtype=np.uint64).copy()


def _pair_seed(private: X25519PrivateKey, public: bytes, info: bytes = b"mask") -> bytes:
    secret = private.exchange(X25519PublicKey.from_public_bytes(public))
    label = b"shopveil secagg " + info
    return HKDF(hashes.SHA256(), 32, salt=None, info=label).derive(secret)


_SHARE = 66  # bytes of one Shamir share (below 2^521)
SEALED = 12 + 2 * _SHARE + 16
"""Bytes of one sealed pair of shares: nonce, two shares, GCM tag."""


@dataclass(eq=False)
class MaskingClient:
    """One client's side of a round; ``cid`` is its id (>= 1)."""

    cid: int
    _key: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate, repr=False)
    _seed: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _peers: dict[int, bytes] = field(default_factory=dict, repr=False)
    _held: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False)
    _revealed: dict[int, str] = field(default_factory=dict, repr=False)

    def public_key(self) -> bytes:
        """Step 1: the public key to publish."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def make_shares(self, keys: dict[int, bytes], threshold: int) -> dict[int, bytes]:
        """Step 2: for each peer, its shares of this client's (private key, self seed),
        sealed so that only that peer can open them."""
        self._peers = dict(keys)
        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        holders = sorted(keys)
        key_shares, seed_shares = (
            share(raw, holders, threshold),
            share(self._seed, holders, threshold),
        )
        sealed = {}
        for h in holders:
            if h == self.cid:
                continue
            plain = key_shares[h].to_bytes(_SHARE, "big") + seed_shares[h].to_bytes(_SHARE, "big")
            nonce = secrets.token_bytes(12)
            box = AESGCM(_pair_seed(self._key, keys[h], b"shares"))
            sealed[h] = nonce + box.encrypt(nonce, plain, self._aad(self.cid, h))
        return sealed

    @staticmethod
    def _aad(owner: int, holder: int) -> bytes:
        return owner.to_bytes(8, "big") + holder.to_bytes(8, "big")

    def keep_shares(self, owner: int, sealed: bytes) -> None:
        """Step 2, receiving: open and hold ``owner``'s shares (after :meth:`make_shares`)."""
        if owner not in self._peers:
            raise PrivacyError(f"shares from client {owner}, who published no key; refused")
        box = AESGCM(_pair_seed(self._key, self._peers[owner], b"shares"))
        plain = box.decrypt(sealed[:12], sealed[12:], self._aad(owner, self.cid))
        self._held[owner] = (
            int.from_bytes(plain[:_SHARE], "big"),
            int.from_bytes(plain[_SHARE:], "big"),
        )

    def masked(self, values: np.ndarray) -> np.ndarray:
        """Step 3: the masked input (integers mod 2⁶⁴)."""
        y = np.asarray(values).astype(np.int64).view(np.uint64).copy()
        y += prg(self._seed, y.size)
        for peer, public in self._peers.items():
            if peer == self.cid:
                continue
            mask = prg(_pair_seed(self._key, public), y.size)
            y = y + mask if peer > self.cid else y - mask
        return y

    def export(self) -> dict[str, np.ndarray]:
        """The session as arrays, to keep between messages on the client's own node
        (a deployed node runs each message in a fresh process); see :meth:`restore`."""
        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        peers = sorted(self._peers)
        held = sorted(self._held)
        kinds = {"seed": 1, "key": 2}
        return {
            "cid": np.array([self.cid], dtype=np.uint64),
            "secret": np.frombuffer(raw + self._seed, dtype=np.uint8).copy(),
            "peers": np.array(peers, dtype=np.uint64),
            "peer-keys": np.frombuffer(b"".join(self._peers[p] for p in peers), dtype=np.uint8),
            "held": np.array(held, dtype=np.uint64),
            "shares": np.frombuffer(
                b"".join(v.to_bytes(_SHARE, "big") for h in held for v in self._held[h]),
                dtype=np.uint8,
            ),
            "revealed": np.array(
                [[o, kinds[k]] for o, k in sorted(self._revealed.items())], dtype=np.uint64
            ).reshape(-1, 2),
        }

    @classmethod
    def restore(cls, saved: dict[str, np.ndarray]) -> MaskingClient:
        """The session :meth:`export` saved."""
        secret = saved["secret"].tobytes()
        peer_keys = saved["peer-keys"].tobytes()
        shares = saved["shares"].tobytes()
        held = {}
        for k, owner in enumerate(saved["held"].tolist()):
            row = shares[2 * _SHARE * k : 2 * _SHARE * (k + 1)]
            held[int(owner)] = (
                int.from_bytes(row[:_SHARE], "big"),
                int.from_bytes(row[_SHARE:], "big"),
            )
        return cls(
            int(saved["cid"][0]),
            X25519PrivateKey.from_private_bytes(secret[:32]),
            secret[32:],
            {int(p): peer_keys[32 * k : 32 * (k + 1)] for k, p in enumerate(saved["peers"])},
            held,
            {int(o): "seed" if k == 1 else "key" for o, k in saved["revealed"].tolist()},
        )

    def reveal(self, survived: set[int], dropped: set[int]) -> dict[int, tuple[str, int]]:
        """Step 4: a share of ``b_j`` for survivors, of ``sk_j`` for the dropped."""
        if survived & dropped:
            raise PrivacyError(
                f"the server asked for both shares of clients {sorted(survived & dropped)}: "
                "that would unmask their input; refused"
            )
        out: dict[int, tuple[str, int]] = {}
        for owner, (key_share, seed_share) in self._held.items():
            kind = "seed" if owner in survived else "key" if owner in dropped else None
            if kind is None:
                continue
            if self._revealed.setdefault(owner, kind) != kind:
                raise PrivacyError(
                    f"client {owner}'s {self._revealed[owner]} share was revealed before; "
                    f"revealing its {kind} share too would unmask its input; refused"
                )
            out[owner] = (kind, seed_share if kind == "seed" else key_share)
        return out


def unmask_sum(
    masked: dict[int, np.ndarray],
    keys: dict[int, bytes],
    revealed: dict[int, dict[int, tuple[str, int]]],
    threshold: int,
) -> np.ndarray:
    """The sum of the survivors' inputs (int64), from their masked inputs and the shares.

    ``revealed`` maps each answering client's id to what it revealed (:meth:`reveal`).
    """
    if not masked:
        raise ParameterError("no client sent a masked input: nothing to sum")
    size = next(iter(masked.values())).size
    total = np.zeros(size, dtype=np.uint64)
    for y in masked.values():
        total += y
    pooled: dict[int, dict[int, int]] = {}
    for holder, answer in revealed.items():
        for owner, (_, value) in answer.items():
            pooled.setdefault(owner, {})[holder] = value
    for owner, shares in pooled.items():
        if len(shares) < threshold:
            raise PrivacyError(
                f"only {len(shares)} shares for client {owner}, threshold {threshold}: "
                "too many dropped out to finish the round"
            )
        secret = reconstruct(dict(list(shares.items())[:threshold]))
        if owner in masked:
            total -= prg(secret, size)
            continue
        dropped_key = X25519PrivateKey.from_private_bytes(secret)
        for peer in masked:
            mask = prg(_pair_seed(dropped_key, keys[peer]), size)
            # The survivor added +mask when the dropped client's id was above its own.
            total = total - mask if owner > peer else total + mask
    return total.view(np.int64)
