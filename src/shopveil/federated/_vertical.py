"""Vertical federated learning: the retailer and a partner hold different features of the
same customers, and train one churn model without exchanging them.

The retailer (the active party) holds its feature columns and the churn labels; the
partner (the passive party) holds other columns of its own customers, which overlap the
retailer's. They align their common customers by private set intersection
(:mod:`shopveil.federated._psi`) and train split logistic regression: each party keeps
the weights of its own columns, and per mini-batch

1. the retailer names the batch (row positions in the aligned order);
2. the partner sends its partial scores ``X_B w_B`` for those rows;
3. the retailer adds its own, ``X_A w_A + b``, takes the sigmoid against its labels and
   sends back the residuals ``p - y``; each party steps its own weights with its
   columns' gradient ``X^T (p - y) / m``.

Scoring a customer takes steps 1 and 2. The same mini-batches on the pooled columns give
the same model (the centralized baseline :func:`train_vertical` reports, and the model
on the retailer's columns alone). What crosses: PSI's blinded points, row positions,
one partial score and one residual per customer of a batch; never a feature column. What
each side learns beyond the model: the partner, the residuals of the training
customers, whose signs are their churn labels; the retailer, the partner's partial
scores, linear in the partner's features (over many steps enough to estimate the
partner's Gram matrix ``X_B X_B^T``). Hiding those takes encrypted residuals
(Hardy et al. 2017) or secure computation of the sigmoid, not done here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError
from shopveil.federated._data import ChurnData
from shopveil.federated._label_shield import LabelKey, MaskedGradient
from shopveil.federated._model import LocalTraining, auc, local_update, predict
from shopveil.federated._psi import PsiParty, private_intersection
from shopveil.learn import FEATURE_NAMES

__all__ = [
    "PARTNER_COLUMNS",
    "Transcript",
    "VerticalParty",
    "VerticalResult",
    "split_parties",
    "train_vertical",
]

PARTNER_COLUMNS = ("distinct_items", "purchases_30d", "purchases_90d", "return_rate")
"""The columns the partner holds by default; the retailer holds the rest."""

Transcript = list[tuple[str, str, np.ndarray]]
"""Every message between the parties: ``(sender, kind, payload)``."""


@dataclass(frozen=True, eq=False)
class VerticalParty:
    """One party's data: its customers, its columns (scaled by the declared caps), and,
    for the retailer only, the labels and which customers are held out for testing."""

    name: str
    customers: tuple[str, ...]
    columns: tuple[str, ...]
    x: np.ndarray = field(repr=False)
    y: np.ndarray | None = field(default=None, repr=False)
    train: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.x.shape != (len(self.customers), len(self.columns)):
            raise ParameterError(
                f"{self.name}: x must be ({len(self.customers)}, {len(self.columns)}), "
                f"got {self.x.shape}"
            )
        if (self.y is None) != (self.train is None):
            raise ParameterError(f"{self.name}: labels and the train/test split go together")


def split_parties(
    data: ChurnData,
    partner_columns: Sequence[str] | None = None,
    *,
    share: float = 0.85,
    rng: np.random.Generator | None = None,
) -> tuple[VerticalParty, VerticalParty]:
    """The retailer and the partner of a vertical run, from one churn task.

    Each holds a random ``share`` of the customers (drawn apart, so each also has
    customers the other lacks); the partner the ``partner_columns`` (default
    :data:`PARTNER_COLUMNS`), the retailer the other features, the labels and the
    train/test split.
    """
    partner_columns = PARTNER_COLUMNS if partner_columns is None else tuple(partner_columns)
    unknown = [c for c in partner_columns if c not in FEATURE_NAMES]
    if unknown or not partner_columns or len(set(partner_columns)) != len(partner_columns):
        raise ParameterError(
            f"partner columns {list(partner_columns)!r} must be distinct names among "
            f"{', '.join(FEATURE_NAMES)}"
        )
    mine = [c for c in FEATURE_NAMES if c not in partner_columns]
    if not mine:
        raise ParameterError("the partner cannot hold every column: the retailer needs one")
    if not 0 < share <= 1:
        raise ParameterError(f"share must be in (0, 1], got {share!r}")
    rng = rng if rng is not None else secure_rng()
    n = len(data.customers)
    index = {c: k for k, c in enumerate(FEATURE_NAMES)}

    def party(name: str, columns: Sequence[str], labelled: bool) -> VerticalParty:
        rows = np.sort(rng.permutation(n)[: max(1, round(share * n))])
        cols = np.array([index[c] for c in columns], dtype=np.int64)
        x = data.x[np.ix_(rows, cols)].astype(np.float64)
        return VerticalParty(
            name, tuple(str(data.customers[r]) for r in rows), tuple(columns), x,
            data.y[rows].astype(np.float64) if labelled else None,
            data.train[rows] if labelled else None,
        )  # fmt: skip

    return party("retailer", mine, True), party("partner", list(partner_columns), False)


@dataclass(frozen=True)
class VerticalResult:
    """A vertical run's scores and costs; AUCs on the retailer's held-out common customers."""

    auc: float
    central_auc: float
    retailer_only_auc: float
    retailer_customers: int
    partner_customers: int
    common_customers: int
    train: int
    test: int
    messages: int
    bytes_exchanged: int
    psi_seconds: float
    training_seconds: float

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            is_float = isinstance(value, float)
            out[key] = (round(value, 4) if np.isfinite(value) else None) if is_float else value
        return out


class _Partner:
    """The passive party's side of training: its aligned columns and weights."""

    def __init__(self, x: np.ndarray) -> None:
        self._x = x
        self._w = np.zeros(x.shape[1])

    def partial(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(self._x[positions] @ self._w)

    def step(self, positions: np.ndarray, residual: np.ndarray, rate: float) -> None:
        self._w = self._w - rate * (self._x[positions].T @ residual) / len(residual)

    def masked(
        self, shield: MaskedGradient, positions: np.ndarray, sealed: np.ndarray
    ) -> np.ndarray:
        return shield.masked(self._x[positions], sealed)

    def step_masked(self, shield: MaskedGradient, plain: np.ndarray, rate: float, m: int) -> None:
        self._w = self._w - rate * shield.gradient(plain) / m


def _send(log: Transcript, sender: str, kind: str, payload: np.ndarray) -> np.ndarray:
    """A message crossing the boundary: recorded, and a copy is what arrives."""
    sent = np.array(payload, copy=True)
    log.append((sender, kind, sent))
    return sent.copy()


def train_vertical(
    retailer: VerticalParty,
    partner: VerticalParty,
    training: LocalTraining | None = None,
    *,
    seed: int | None = None,
    transcript: Transcript | None = None,
    protect_labels: bool = False,
) -> VerticalResult:
    """Align by PSI, train split logistic regression, score it and the baselines.

    ``training`` sets epochs, batch size and step (``mu`` must be 0); ``seed`` fixes
    the mini-batch order (drawn from :mod:`secrets` without it). Every message is
    appended to ``transcript``. With ``protect_labels`` the residuals cross encrypted
    and the partner's gradient comes back masked (:mod:`shopveil.federated._label_shield`):
    the partner never sees a residual, at one Paillier encryption per training customer
    and epoch.
    """
    training = training if training is not None else LocalTraining(epochs=20, batch_size=64)
    if training.mu:
        raise ParameterError("vertical training has no global model to stay near: mu must be 0")
    if retailer.y is None or retailer.train is None:
        raise ParameterError("the retailer (first party) must hold the labels")
    log: Transcript = transcript if transcript is not None else []
    start = time.perf_counter()
    mine, theirs = private_intersection(
        PsiParty(retailer.customers), PsiParty(partner.customers), transcript=log
    )
    for k, (sender, kind, payload) in enumerate(log):
        log[k] = (retailer.name if sender == "asker" else partner.name, kind, payload)
    psi_seconds = time.perf_counter() - start
    if len(mine) == 0:
        raise ParameterError("the retailer and the partner have no customer in common")
    xa, y, train = retailer.x[mine], retailer.y[mine], retailer.train[mine]
    fit, test = np.flatnonzero(train), np.flatnonzero(~train)
    if len(fit) == 0 or len(test) == 0:
        raise ParameterError("the common customers need both training and test customers")
    other = _Partner(partner.x[theirs])  # the partner aligns its own rows; nothing is sent
    seed = seed if seed is not None else secrets.randbits(64)
    order = np.random.default_rng(seed)
    wa = np.zeros(xa.shape[1] + 1)
    start = time.perf_counter()
    key = LabelKey() if protect_labels else None
    shield = MaskedGradient(_send(log, retailer.name, "vfl.key", key.public)) if key else None
    for _ in range(training.epochs):
        shuffled = fit[order.permutation(len(fit))]
        for first in range(0, len(fit), training.batch_size):
            rows = shuffled[first : first + training.batch_size]
            batch = _send(log, retailer.name, "vfl.batch", rows)
            theirs_part = _send(log, partner.name, "vfl.partial", other.partial(batch))
            residual = _sigmoid(xa[batch] @ wa[:-1] + wa[-1] + theirs_part) - y[batch]
            wa = wa - training.learning_rate * np.concatenate(
                [xa[batch].T @ residual, [residual.sum()]]
            ) / len(batch)
            if key is None or shield is None:
                other.step(batch, _send(log, retailer.name, "vfl.residual", residual),
                           training.learning_rate)  # fmt: skip
                continue
            sealed = _send(log, retailer.name, "vfl.residual-sealed", key.encrypt(residual))
            masked = _send(log, partner.name, "vfl.gradient-masked",
                           other.masked(shield, batch, sealed))  # fmt: skip
            plain = _send(log, retailer.name, "vfl.gradient-masked-open", key.decrypt(masked))
            other.step_masked(shield, plain, training.learning_rate, len(batch))
    asked = _send(log, retailer.name, "vfl.score", test)
    scores = _sigmoid(xa[test] @ wa[:-1] + wa[-1]
                      + _send(log, partner.name, "vfl.partial", other.partial(asked)))  # fmt: skip
    training_seconds = time.perf_counter() - start
    pooled = np.concatenate([xa, partner.x[theirs]], axis=1)
    return VerticalResult(
        auc=auc(scores, y[test]),
        central_auc=_central(pooled, y, fit, test, training, seed),
        retailer_only_auc=_central(xa, y, fit, test, training, seed),
        retailer_customers=len(retailer.customers),
        partner_customers=len(partner.customers),
        common_customers=len(mine),
        train=len(fit),
        test=len(test),
        messages=len(log),
        bytes_exchanged=sum(int(p.nbytes) for _, _, p in log),
        psi_seconds=psi_seconds,
        training_seconds=training_seconds,
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def _central(
    x: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray,
    training: LocalTraining, seed: int,
) -> float:  # fmt: skip
    """Test AUC of the same logistic regression on ``x`` in one place, same batches."""
    rng = np.random.default_rng(seed)
    weights = local_update(np.zeros(x.shape[1] + 1), x[fit], y[fit], training, rng)
    return auc(predict(weights, x[test]), y[test])
