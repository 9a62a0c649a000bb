"""The ServerApp's training loop: FedAvg / FedProx, wrapped by DP-FedAvg and secure aggregation.

:func:`train_on_grid` runs on any Flower ``Grid`` (the in-process one of
:mod:`shopveil.federated._grid`, or Flower's SuperLink). Every reply is checked before
it counts: a reply that is an error, lacks its arrays, has the wrong shape or dtype, or
holds NaN/inf is rejected and logged, and the round goes on with the others; a client
that does not answer within ``timeout`` is dropped for the round.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil.dp.hazmat import Rng
from shopveil.errors import ParameterError, PrivacyError
from shopveil.federated._client import (
    PLAIN_GRID,
    encode_keys,
    pack_sealed,
    unpack_rows,
    unpack_sealed,
)
from shopveil.federated._compress import Compression, Compressor, decompress, payload_bytes
from shopveil.federated._dp import (
    KAPPA,
    ClipMode,
    DPFedAvgConfig,
    adapt_clip,
    noisy_sum,
    sensitivity,
)
from shopveil.federated._homomorphic import KeyHolder, encrypted_sum
from shopveil.federated._model import LocalTraining
from shopveil.federated._secagg import unmask_sum

__all__ = ["FederatedRun", "RoundReport", "Strategy", "train_on_grid"]

log = logging.getLogger("shopveil.federated")


class Strategy(enum.Enum):
    """The plain aggregation rule."""

    FEDAVG = "fedavg"
    FEDPROX = "fedprox"


@dataclass(frozen=True)
class FederatedRun:
    """How a federated run trains.

    Parameters
    ----------
    rounds
        Federated rounds.
    training
        Each client's local optimization (``mu`` > 0 for FedProx).
    dp
        Customer-level DP-FedAvg, or None; ``noise`` is its multiplier ``z``.
    secure_aggregation
        Mask updates pairwise so the server sees only their sum.
    homomorphic
        Encrypt updates under a key holder's Paillier key instead; the server adds the
        ciphertexts and the key holder decrypts only the sum
        (:mod:`shopveil.federated._homomorphic`).
    compression
        Uplink compression of plain updates (not with DP or secure aggregation).
    timeout
        Seconds a round waits for replies; None waits for all.
    """

    rounds: int = 20
    training: LocalTraining = field(default_factory=LocalTraining)
    dp: DPFedAvgConfig | None = None
    noise: float = 0.0
    secure_aggregation: bool = False
    compression: Compression = field(default_factory=Compression)
    timeout: float | None = None
    threshold: float = 0.6
    homomorphic: bool = False

    def __post_init__(self) -> None:
        if self.homomorphic and (
            self.secure_aggregation or self.compression.kind is not Compressor.NONE
        ):
            raise ParameterError(
                "homomorphic aggregation replaces secure aggregation and encrypts whole "
                "updates: drop --secure-aggregation and --compress"
            )
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ParameterError(f"rounds must be an int >= 1, got {self.rounds!r}")
        if self.compression.kind is not Compressor.NONE and (
            self.dp is not None or self.secure_aggregation
        ):
            raise ParameterError(
                "--compress works on plain updates only; drop it, or drop --dp-epsilon "
                "and --secure-aggregation"
            )


@dataclass(frozen=True)
class RoundReport:
    """What one round did."""

    round: int
    replies: int
    rejected: int
    uplink_bytes: int
    clip: float = math.nan


def _config(run: FederatedRun, rnd: int, clip: float) -> dict[str, Any]:
    t = run.training
    config: dict[str, Any] = {
        "round": rnd, "epochs": t.epochs, "batch-size": t.batch_size,
        "learning-rate": t.learning_rate, "mu": t.mu,
        "secagg": run.secure_aggregation or run.homomorphic,
        "compress": run.compression.kind.value, "bits": run.compression.bits,
        "fraction": run.compression.fraction,
    }  # fmt: skip
    if run.dp is not None:
        config |= {"clip": clip, "grid": run.dp.grid}
    return config


def _valid(reply: Any, key: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
    """The reply's array ``key`` if well formed, else None (logged)."""
    node = reply.metadata.src_node_id
    if reply.has_error():
        log.warning("node %s replied with an error: rejected", node)
        return None
    try:
        value = reply.content.array_records["arrays"][key].numpy()
    except (KeyError, ValueError, TypeError, AttributeError):
        log.warning("node %s sent a malformed update (no %r array): rejected", node, key)
        return None
    if value.shape != shape or value.dtype != np.dtype(dtype):
        log.warning(
            "node %s sent an update of shape %s %s, expected %s %s: rejected",
            node, value.shape, value.dtype, shape, np.dtype(dtype),
        )  # fmt: skip
        return None
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        log.warning("node %s sent NaN or infinite values: rejected", node)
        return None
    return value


def _ask(
    grid: Any,
    nodes: list[int],
    kind: str,
    content: Callable[[int], Any],
    rnd: int,
    timeout: float | None,
) -> dict[int, Any]:
    return {r.metadata.src_node_id: r for r in _stream(grid, nodes, kind, content, rnd, timeout)}


def _stream(
    grid: Any,
    nodes: list[int],
    kind: str,
    content: Callable[[int], Any],
    rnd: int,
    timeout: float | None,
) -> Iterator[Any]:
    """The replies, as the grid gives them; each message is made only when it is sent.

    On the in-process grid one message and one reply exist at a time, so a round's
    memory does not grow with the number of clients.
    """
    with from_extra("fl"):
        from flwr.app import Message

    messages = (Message(content(n), n, kind, group_id=str(rnd)) for n in nodes)
    yield from grid.send_and_receive(messages, timeout=timeout)


def _content(arrays: dict[str, np.ndarray], config: dict[str, Any] | None = None) -> Any:
    with from_extra("fl"):
        from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

    record = RecordDict(
        {"arrays": ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})}
    )
    if config is not None:
        record["config"] = ConfigRecord(config)
    return record


def _same(arrays: dict[str, np.ndarray], config: dict[str, Any] | None, node: int) -> Any:
    """The same content for every node."""
    return _content(arrays, config)


@dataclass(frozen=True)
class _Secure:
    """A secure-aggregation round's public state: client ids (1..n), keys, threshold."""

    cid: dict[int, int]
    keys: dict[int, bytes]
    threshold: int


def _secure_setup(
    grid: Any, nodes: list[int], rnd: int, run: FederatedRun
) -> tuple[list[int], _Secure]:
    """Steps 1 and 2: keys published, sealed shares routed; the nodes that joined."""
    # Protocol ids are 1..n (Shamir's points), not Flower's 64-bit node ids.
    cid = {node: k + 1 for k, node in enumerate(sorted(nodes))}
    replies = _ask(
        grid, nodes, "query.keys", lambda n: _content({}, {"cid": cid[n]}), rnd, run.timeout
    )
    keys = {}
    for node, reply in replies.items():
        public = _valid(reply, "public", (32,), np.uint8)
        if public is not None:
            keys[cid[node]] = public.tobytes()
    joined = sorted(n for n in nodes if cid[n] in keys)
    threshold = max(2, math.ceil(run.threshold * len(joined)))
    if len(joined) < threshold:
        raise PrivacyError(f"{len(joined)} clients joined secure aggregation, fewer than 2")
    table = encode_keys(keys)
    shares = _ask(
        grid, joined, "query.shares",
        lambda n: _content({"keys": table}, {"threshold": threshold}), rnd, run.timeout,
    )  # fmt: skip
    # The server routes each sealed pair of shares to its holder; it cannot open them.
    held: dict[int, dict[int, bytes]] = {cid[n]: {} for n in joined}
    for owner, reply in shares.items():
        if reply.has_error():
            continue
        sealed = unpack_sealed(reply.content.array_records["arrays"]["shares"].numpy())
        for holder, box in sealed.items():
            if holder in held:
                held[holder][cid[owner]] = box
    _ask(
        grid, joined, "query.hold",
        lambda n: _content({"held": pack_sealed(held[cid[n]])}), rnd, run.timeout,
    )  # fmt: skip
    return joined, _Secure(cid, keys, threshold)


def _secure_sum(
    grid: Any, replies: dict[int, Any], joined: list[int], secure: _Secure, width: int,
    rnd: int, run: FederatedRun,
) -> tuple[np.ndarray, int, int]:  # fmt: skip
    """Steps 3 and 4: the survivors' masked inputs, unmasked; rejected count, uplink bytes."""
    masked, rejected, uplink = {}, 0, 0
    for node, reply in replies.items():
        value = _valid(reply, "masked", (width,), np.uint64)
        rejected += value is None
        if value is not None:
            masked[secure.cid[node]] = value
            uplink += value.nbytes
    survived = set(masked)
    dropped = {secure.cid[n] for n in joined} - survived
    if dropped:
        log.warning(
            "round %s: %s of %s clients dropped out; recovering their masks",
            rnd, len(dropped), len(joined),
        )  # fmt: skip
    lists = {
        "survived": np.array(sorted(survived), dtype=np.int64),
        "dropped": np.array(sorted(dropped), dtype=np.int64),
    }
    asked = [n for n in joined if secure.cid[n] in survived]
    answers = _ask(
        grid, asked, "query.reveal", functools.partial(_same, lists, None), rnd, run.timeout
    )
    revealed = {
        secure.cid[n]: {
            owner: ("", value)
            for owner, value in unpack_rows(r.content.array_records["arrays"]["revealed"].numpy())
        }
        for n, r in answers.items()
        if not r.has_error()
    }
    total = unmask_sum(masked, secure.keys, revealed, secure.threshold)
    return total, rejected, uplink


def train_on_grid(
    grid: Any,
    dim: int,
    run: FederatedRun,
    *,
    rng: Rng = None,
    on_round: Callable[[RoundReport], None] | None = None,
    initial: np.ndarray | None = None,
) -> tuple[np.ndarray, list[RoundReport]]:
    """Train a model over the grid's nodes; the final weights and one report per round.

    Training starts from ``initial`` (``dim`` weights, data-independent), zeros by default.
    """
    with from_extra("fl"):
        import flwr  # noqa: F401

    if run.dp is not None and not run.noise > 0:
        raise ParameterError(
            f"run.noise must be > 0 with dp (see noise_multiplier), got {run.noise!r}"
        )
    weights = np.zeros(dim) if initial is None else np.array(initial, dtype=np.float64)
    if weights.shape != (dim,):
        raise ParameterError(f"initial must hold {dim} weights, got shape {weights.shape}")
    clip = run.dp.clip if run.dp is not None else math.nan
    reports = []
    width = dim + 2 if run.dp is not None else dim + 1
    holder = KeyHolder() if run.homomorphic else None
    for rnd in range(1, run.rounds + 1):
        nodes = list(grid.get_node_ids())
        joined: list[int] = nodes
        if run.secure_aggregation:
            joined, secure = _secure_setup(grid, nodes, rnd, run)
        config = _config(run, rnd, clip)
        sent = {"weights": weights}
        if holder is not None:
            sent["he-key"] = holder.public
        train = functools.partial(_same, sent, config)
        rejected = 0
        uplink = 0
        if run.secure_aggregation:
            replies = _ask(grid, joined, "train", train, rnd, run.timeout)
            total, rejected, uplink = _secure_sum(grid, replies, joined, secure, width, rnd, run)
            count = len(replies) - rejected
        elif holder is not None:
            replies = _ask(grid, joined, "train", train, rnd, run.timeout)
            total, count, uplink = encrypted_sum(replies, holder, width, rnd, _valid)
            rejected = len(replies) - count
        else:
            # A running sum: each reply is added and dropped as it comes.
            total, examples, count = np.zeros(0), 0.0, 0
            for reply in _stream(grid, joined, "train", train, rnd, run.timeout):
                if run.dp is not None:
                    value = _valid(reply, "sum", (width,), np.int64)
                else:
                    value = _decoded(reply, run.compression, dim)
                if value is None:
                    rejected += 1
                    continue
                uplink += payload_bytes(
                    {k: v.numpy() for k, v in reply.content.array_records["arrays"].items()}
                )
                n = (
                    float(reply.content.metric_records["metrics"]["num-examples"])
                    if "metrics" in reply.content.metric_records
                    else 0.0
                )
                part = value if run.dp is not None else n * value
                total = part if not count else total + part
                examples += n
                count += 1
        if count:
            if run.dp is not None:
                weights, clip = _dp_step(weights, np.asarray(total), run, clip, rng)
            elif run.secure_aggregation or run.homomorphic:
                n = float(total[-1])
                weights = weights + (total[:-1] * PLAIN_GRID / n if n > 0 else 0)
            elif examples > 0:
                weights = weights + total / examples
        report = RoundReport(rnd, count, rejected, uplink, clip)
        reports.append(report)
        if on_round is not None:
            on_round(report)
    return weights, reports


def _decoded(reply: Any, setting: Compression, dim: int) -> np.ndarray | None:
    if setting.kind is Compressor.NONE:
        return _valid(reply, "update", (dim,), np.float64)
    node = reply.metadata.src_node_id
    try:
        payload = {k: v.numpy() for k, v in reply.content.array_records["arrays"].items()}
        update = decompress(payload, setting, dim)
    except (KeyError, ValueError, IndexError, TypeError):
        log.warning("node %s sent a malformed compressed update: rejected", node)
        return None
    if update.shape != (dim,) or not np.all(np.isfinite(update)):
        log.warning("node %s sent a compressed update that decodes badly: rejected", node)
        return None
    return update


def _dp_step(
    weights: np.ndarray, total: np.ndarray, run: FederatedRun, clip: float, rng: Rng
) -> tuple[np.ndarray, float]:
    """Noise the integer sum, average over the noisy count, step; adapt the clip."""
    assert run.dp is not None
    dim = len(weights)
    step = clip * run.dp.grid
    sigma = run.noise * sensitivity(clip, step, dim)
    noisy = noisy_sum(total[:dim], sigma, rng)
    counts = noisy_sum(total[dim:], KAPPA * run.noise, rng)
    within, count = float(counts[0]), float(counts[1])
    mean = noisy * step / max(count, 1.0)
    weights = weights + run.dp.server_rate * mean
    if run.dp.mode is ClipMode.ADAPTIVE:
        clip = adapt_clip(clip, within, count, run.dp)
    return weights, clip
