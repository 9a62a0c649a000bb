"""Customer-level membership inference against ShopVeil recommenders.

The unit is the customer: was this customer's whole history in the training data? The
attack trains the models itself on customers it splits at random (each model sees a
random half of them), so that every customer is in some models and out of others.

The per-customer statistic is the model's fit to the customer's own items, as the
user-side contract computes it: each customer's items are cut once into two halves;
the model scores every item from one half (the customer's vector is solved from it at
scoring time), the scores are standardized over the items outside that half, and the
statistic is the mean standardized score of the other half's items, averaged over both
directions. A model that memorized the customer ranks their held items higher.

Three attacks score each customer against a target model:

* **threshold** (Yeom et al. 2018): the statistic itself;
* **LiRA offline** (Carlini et al. 2022): how far the statistic lies above the mean of
  the shadow models trained *without* the customer, in units of the shadows' spread
  (one global variance: with 16 shadows a per-customer one is too noisy);
* **LiRA online**: the log-likelihood ratio of the statistic under the shadows trained
  with the customer against those trained without.

Every model in turn can be the target, the others its shadows (``targets``): the ROC is
then pooled over targets, which is what makes TPR at 0.1% FPR measurable on a thousand
customers. The models are fitted on a scratch ledger that lives as long as the attack:
they are never saved or released, and the attack prints aggregate rates only.
"""

from __future__ import annotations

import math
import secrets
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ApproxDP
from shopveil.attacks._stats import auc, tpr_at_fpr
from shopveil.dp import Ledger, PeopleKey
from shopveil.errors import ParameterError
from shopveil.learn import (
    FitContext,
    FittedRecommender,
    Interactions,
    NoSignalWarning,
    build_recommender,
    is_private,
)
from shopveil.store import Store

__all__ = [
    "AttackScores",
    "MembershipConfig",
    "MembershipResult",
    "config_from_model_file",
    "membership_attack",
]

ATTACKS = ("threshold", "lira_offline", "lira_online")
_MIN_ITEMS = 2  # a customer needs two items: one half to solve from, one to score


@dataclass(frozen=True)
class MembershipConfig:
    """What a membership attack trains and how.

    Parameters
    ----------
    model
        The registry name of the recommender (``shopveil.learn.MODELS``).
    epsilon
        ε per customer for a private model; None for the non-private variant.
    options
        Model options, as ``--param`` gives them.
    shadows
        Shadow models besides the target (each on a random half of the customers).
    targets
        How many of the models serve in turn as the target (1 to ``shadows + 1``);
        the ROC is pooled over them.
    seed
        Seeds the customer splits (not the models' noise, which is always fresh).
    """

    model: str = "als"
    epsilon: float | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    shadows: int = 16
    targets: int = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        for name, low in (("shadows", 2), ("targets", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be an int >= {low}, got {value!r}")
        if self.targets > self.shadows + 1:
            raise ParameterError(
                f"targets must be at most shadows + 1 = {self.shadows + 1}, got {self.targets}"
            )
        build_recommender(self.model, self.epsilon, self.options)  # names a bad model first


@dataclass(frozen=True)
class AttackScores:
    """One attack's success: AUC and TPR at 0.1% and 1% FPR."""

    auc: float
    tpr_at_01pct_fpr: float
    tpr_at_1pct_fpr: float

    def as_dict(self) -> dict[str, float]:
        """The rates, under the names the command prints."""
        return {
            "auc": round(self.auc, 4),
            "tpr_at_0.1pct_fpr": round(self.tpr_at_01pct_fpr, 4),
            "tpr_at_1pct_fpr": round(self.tpr_at_1pct_fpr, 4),
        }


@dataclass(frozen=True)
class MembershipResult:
    """Every attack's scores, and what they were measured on."""

    config: MembershipConfig
    attacks: Mapping[str, AttackScores]
    members: int
    nonmembers: int
    customers: int
    seconds: float
    no_signal_fits: int = 0

    @property
    def best(self) -> AttackScores:
        """The LiRA offline attack's scores (the headline figures)."""
        return self.attacks["lira_offline"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the headline figures first, then every attack's."""
        return {
            **self.best.as_dict(),
            "members": self.members,
            "nonmembers": self.nonmembers,
            "customers": self.customers,
            "model": self.config.model,
            "epsilon": self.config.epsilon,
            "shadows": self.config.shadows,
            "targets": self.config.targets,
            "attacks": {name: s.as_dict() for name, s in self.attacks.items()},
            "no_signal_fits": self.no_signal_fits,
            "seconds": round(self.seconds, 1),
        }


def _halves(counts: sparse.csr_matrix, rng: np.random.Generator) -> tuple[sparse.csr_matrix, ...]:
    """Each row's items cut at random into two halves (as two matrices)."""
    coo = sparse.coo_matrix(counts)
    order = np.lexsort((rng.random(coo.nnz), coo.row))
    rows, cols, data = coo.row[order], coo.col[order], coo.data[order]
    starts = np.searchsorted(rows, rows, side="left")
    sizes = np.bincount(rows, minlength=counts.shape[0])[rows]
    first = (np.arange(len(rows)) - starts) < sizes // 2
    shape = counts.shape
    return (
        sparse.csr_matrix((data[first], (rows[first], cols[first])), shape=shape),
        sparse.csr_matrix((data[~first], (rows[~first], cols[~first])), shape=shape),
    )


def _fit_to(
    model: FittedRecommender, given: sparse.csr_matrix, held: sparse.csr_matrix
) -> np.ndarray:
    """Per row: the mean standardized score of ``held``'s items, solved from ``given``."""
    users = np.arange(given.shape[0])
    scores = np.asarray(model.scores(users, given), dtype=np.float64)
    outside = given.toarray() == 0
    n = outside.sum(axis=1)
    mean = np.where(outside, scores, 0.0).sum(axis=1) / n
    var = np.where(outside, (scores - mean[:, None]) ** 2, 0.0).sum(axis=1) / n
    z = (scores - mean[:, None]) / np.sqrt(np.maximum(var, 1e-24))[:, None]
    mask = held.toarray() > 0
    return np.asarray(np.where(mask, z, 0.0).sum(axis=1) / mask.sum(axis=1))


def customer_statistic(
    model: FittedRecommender, counts: sparse.csr_matrix, halves: tuple[sparse.csr_matrix, ...]
) -> np.ndarray:
    """The model's fit to each customer's own items (higher: better fit), both directions."""
    a, b = halves
    return 0.5 * (_fit_to(model, a, b) + _fit_to(model, b, a))


def _scratch_ledger(folder: str) -> tuple[Store, Ledger]:
    store = Store.open(f"sqlite:///{Path(folder) / 'attack-ledger.db'}")
    return store, Ledger(
        store, default_total=ApproxDP(1e9, 0.5), people_key=PeopleKey(secrets.token_bytes(32))
    )


def _lira(stats: np.ndarray, inside: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Offline and online LiRA scores of every customer against model ``target``."""
    others = np.arange(len(stats)) != target
    s, m = stats[others], inside[others]
    n_out, n_in = (~m).sum(axis=0), m.sum(axis=0)
    mu_out = np.where(~m, s, 0.0).sum(axis=0) / np.maximum(n_out, 1)
    mu_in = np.where(m, s, 0.0).sum(axis=0) / np.maximum(n_in, 1)
    sd_out = float(np.sqrt(np.sum(np.where(~m, (s - mu_out) ** 2, 0.0)) / max(n_out.sum() - 1, 1)))
    sd_in = float(np.sqrt(np.sum(np.where(m, (s - mu_in) ** 2, 0.0)) / max(n_in.sum() - 1, 1)))
    sd_out, sd_in = max(sd_out, 1e-12), max(sd_in, 1e-12)
    x = stats[target]
    offline = (x - mu_out) / sd_out
    online = (
        -0.5 * ((x - mu_in) / sd_in) ** 2 - math.log(sd_in)
        + 0.5 * ((x - mu_out) / sd_out) ** 2 + math.log(sd_out)
    )  # fmt: skip
    offline = np.where(n_out > 0, offline, 0.0)
    online = np.where((n_out > 0) & (n_in > 0), online, 0.0)
    return offline, online


def membership_attack(
    data: Interactions,
    config: MembershipConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> MembershipResult:
    """Train ``1 + config.shadows`` models on random halves of the customers and attack.

    ``progress(done, total)`` is called after each fit. Customers with fewer than two
    items are left out of the attack (they have no held half to score).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    counts = data.counts()
    n_items = np.diff(counts.indptr)
    eligible = np.flatnonzero(n_items >= _MIN_ITEMS)
    if len(eligible) < 20:
        raise ParameterError(
            f"a membership attack needs at least 20 customers with {_MIN_ITEMS}+ items, "
            f"the data has {len(eligible)}; give a larger --data file"
        )
    halves = _halves(counts[eligible], rng)
    n_models = config.shadows + 1
    inside = np.zeros((n_models, len(eligible)), dtype=bool)
    for j in range(n_models):
        inside[j, rng.permutation(len(eligible))[: len(eligible) // 2]] = True
    recommender = build_recommender(config.model, config.epsilon, config.options)
    private = is_private(config.model, config.epsilon)
    stats = np.empty((n_models, len(eligible)))
    no_signal = 0
    with tempfile.TemporaryDirectory(prefix="shopveil-attack-") as folder:
        store, ledger = _scratch_ledger(folder) if private else (None, None)
        try:
            for j in range(n_models):
                keep = np.zeros(data.n_users, dtype=bool)
                keep[eligible[inside[j]]] = True
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", NoSignalWarning)
                    fitted = recommender.fit(
                        data.of_users(keep), FitContext(ledger=ledger, dataset="attack")
                    )
                no_signal += any(issubclass(w.category, NoSignalWarning) for w in caught)
                stats[j] = customer_statistic(fitted, counts[eligible], halves)
                if progress is not None:
                    progress(j + 1, n_models)
        finally:
            if store is not None:
                store.close()
    scores: dict[str, list[np.ndarray]] = {name: [] for name in ATTACKS}
    labels = []
    for t in range(config.targets):
        offline, online = _lira(stats, inside, t)
        scores["threshold"].append(stats[t])
        scores["lira_offline"].append(offline)
        scores["lira_online"].append(online)
        labels.append(inside[t])
    member = np.concatenate(labels)
    attacks = {}
    for name, parts in scores.items():
        s = np.concatenate(parts)
        attacks[name] = AttackScores(
            auc(s, member), tpr_at_fpr(s, member, 0.001), tpr_at_fpr(s, member, 0.01)
        )
    return MembershipResult(
        config,
        MappingProxyType(attacks),
        members=int(member.sum()),
        nonmembers=int((~member).sum()),
        customers=len(eligible),
        seconds=time.perf_counter() - started,
        no_signal_fits=no_signal,
    )


def config_from_model_file(path: str | Path, **settings: Any) -> MembershipConfig:
    """The attack on a saved model's configuration: its kind, ε and options from its file.

    Raises :class:`~shopveil.errors.SourceError` when the file has no privacy metadata.
    """
    from shopveil.learn import load_model

    file = load_model(path)
    budget = file.privacy.budget
    epsilon = None if budget is None else float(getattr(budget, "epsilon", math.inf))
    options = {
        k: v
        for k, v in file.privacy.params.items()
        if not k.startswith("fallback_") and k not in ("delta", "epsilon")
    }
    return MembershipConfig(model=file.kind, epsilon=epsilon, options=options, **settings)
