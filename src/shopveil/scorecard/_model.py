"""The scorecard of a trained recommender: its ε and membership leakage next to its
ranking quality against a non-private baseline fitted on the same split."""

from __future__ import annotations

import math
import os
import secrets
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from shopveil._core.budgets import ApproxDP
from shopveil.attacks import MembershipResult, config_from_model_file, membership_attack
from shopveil.audit import AuditLog
from shopveil.dp import Ledger, PeopleKey
from shopveil.errors import ParameterError
from shopveil.learn import (
    ALS,
    Evaluation,
    FitContext,
    Interactions,
    NoSignalWarning,
    Popularity,
    Recommender,
    build_recommender,
    evaluate,
    is_private,
    load_model,
)
from shopveil.scorecard._refs import LedgerRefs, ledger_refs
from shopveil.store import Store

__all__ = [
    "Baseline",
    "CurvePoint",
    "ModelScorecard",
    "max_membership_auc",
    "model_scorecard",
    "split_customers_items",
]


def max_membership_auc(epsilon: float, delta: float = 0.0) -> float:
    """The highest AUC any membership attack can reach on an (ε, δ)-DP model.

    Every test between neighbouring inputs has TPR ≤ min(1, e^ε FPR + δ,
    1 − e^−ε (1 − δ − FPR)) (Kairouz et al. 2015); the AUC is the area under that curve.
    """
    if not math.isfinite(epsilon):
        return 1.0
    delta = 0.0 if not math.isfinite(delta) else delta
    # The curve is piecewise linear: the trapezoid over its corners is exact.
    corners = [(1.0 - delta) / (1.0 + math.exp(epsilon)), (1.0 - delta) * math.exp(-epsilon)]
    fpr = np.unique(np.clip([0.0, 1.0 - delta, 1.0, *corners], 0.0, 1.0))
    tpr = np.minimum.reduce(
        [
            np.ones_like(fpr),
            math.exp(epsilon) * fpr + delta,
            1.0 - math.exp(-epsilon) * (1.0 - delta - fpr),
        ]
    )
    return float(np.trapezoid(np.clip(tpr, 0.0, 1.0), fpr))


class Baseline(StrEnum):
    """The non-private model a scorecard measures utility against."""

    ALS = "als"
    POPULARITY = "popularity"


@dataclass(frozen=True)
class CurvePoint:
    """One fit of the model's kind at ``epsilon`` on the scorecard's split."""

    epsilon: float
    recall: float
    ndcg: float


@dataclass(frozen=True)
class ModelScorecard:
    """Privacy and utility of one model file.

    Attributes
    ----------
    model, kind
        The file's name and the recommender it holds.
    epsilon, delta, mechanism, unit
        The privacy metadata saved with the model (ε = ∞ when not private).
    membership
        The customer-level membership attack on the model's configuration.
    utility, baseline
        Recall@k, NDCG, coverage, diversity of the model's configuration and of the
        non-private ``baseline_model``, both fitted on the same split.
    curve
        The model's kind fitted at several ε on that split (empty for a kind that
        trains without DP).
    ledger
        ε charged to the model's dataset and the audit events.
    no_signal_fits
        Fits whose noise drowned the signal (they fell back, see ``NoSignalWarning``).
    """

    model: str
    kind: str
    epsilon: float
    delta: float
    mechanism: str
    unit: str
    membership: MembershipResult
    utility: Evaluation
    baseline: Evaluation
    curve: tuple[CurvePoint, ...]
    ledger: LedgerRefs
    no_signal_fits: int = 0
    baseline_model: Baseline = Baseline.ALS

    @property
    def private(self) -> bool:
        """True when the model was trained with DP."""
        return math.isfinite(self.epsilon)

    @property
    def auc_bound(self) -> float:
        """The highest membership AUC the model's (ε, δ) allows (1 when not private)."""
        return max_membership_auc(self.epsilon, self.delta)

    @property
    def passed(self) -> bool:
        """A private model whose measured membership AUC is within what its ε allows."""
        return self.private and self.membership.best.auc <= self.auc_bound

    @property
    def verdict(self) -> str:
        """One line: the privacy guarantee and leakage, and the utility kept."""
        auc = self.membership.best.auc
        base = self.baseline.all.recall
        kept = self.utility.all.recall / base if base > 0 else math.nan
        k = self.utility.k
        head = "PASS" if self.passed else "AT RISK"
        head = head if self.private else "NOT PRIVATE"
        eps = "ε = ∞" if not self.private else f"ε = {self.epsilon:g}"
        bound = f" (ε allows ≤ {self.auc_bound:.3f})" if self.private else ""
        return (
            f"{head}: {eps}, membership AUC {auc:.3f}{bound}; Recall@{k} "
            f"{self.utility.all.recall:.3f} = {kept:.0%} of non-private {self.baseline_model.value}"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the verdict first, then privacy, utility and references."""

        def finite(value: float) -> float | None:
            return value if math.isfinite(value) else None

        def metrics(e: Evaluation) -> dict[str, Any]:
            return {
                f"recall@{e.k}": finite(e.all.recall),
                f"ndcg@{e.k}": finite(e.all.ndcg),
                "coverage": e.all.coverage,
                "diversity": finite(e.all.diversity),
            }

        return {
            "kind": "model",
            "model": self.model,
            "recommender": self.kind,
            "verdict": self.verdict,
            "passed": self.passed,
            "privacy": {
                "epsilon": finite(self.epsilon),
                "delta": finite(self.delta),
                "mechanism": self.mechanism,
                "unit": self.unit,
                "membership_auc": self.membership.best.auc,
                "membership_auc_bound": self.auc_bound,
                "tpr_at_1pct_fpr": self.membership.best.tpr_at_1pct_fpr,
                "epsilon_spent": self.ledger.epsilon_spent,
            },
            "utility": metrics(self.utility),
            "baseline": {"model": self.baseline_model.value, **metrics(self.baseline)},
            "curve": [vars(p) for p in self.curve],
            "ledger": {
                "dataset": self.ledger.dataset,
                "charge_seqs": list(self.ledger.charge_seqs),
            },
            "audit_seqs": list(self.ledger.charge_seqs),
            "no_signal_fits": self.no_signal_fits,
        }


def split_customers_items(
    data: Interactions, holdout: float, rng: np.random.Generator
) -> tuple[Interactions, Interactions]:
    """Hold out a random ``holdout`` share of the events (each customer keeps the rest)."""
    if not 0.0 < holdout < 1.0:
        raise ParameterError(f"holdout must be in (0, 1), got {holdout!r}")
    test = rng.random(len(data)) < holdout

    def part(mask: np.ndarray) -> Interactions:
        return Interactions(
            data.users[mask], data.items[mask], data.times[mask],
            data.user_ids, data.item_ids, data.catalogue,
        )  # fmt: skip

    return part(~test), part(test)


def model_scorecard(
    model: str | os.PathLike[str],
    data: Interactions,
    *,
    epsilons: Sequence[float] = (0.5, 1.0, 2.0, 4.0, 8.0),
    shadows: int = 4,
    k: int = 20,
    holdout: float = 0.2,
    seed: int | None = None,
    baseline: Baseline = Baseline.ALS,
    audit: AuditLog | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ModelScorecard:
    """Score the model in ``model`` on ``data`` (its customers' purchases).

    The model's configuration (kind, ε, options from its privacy metadata) is refitted on
    a random split of ``data``, with the non-private ``baseline`` beside it and the kind
    at each of ``epsilons`` (the model's own ε among them is fitted once); the membership
    attack trains ``shadows`` more. Every fit here goes to a scratch ledger that is
    deleted with the run; nothing is saved or released. A file without privacy metadata
    is refused.
    """
    path = Path(model)
    file = load_model(path)
    # Every model serves in turn as the target: the ROC pools them at no extra fit.
    config = config_from_model_file(path, shadows=shadows, targets=shadows + 1, seed=seed)
    options: Mapping[str, Any] = config.options
    baseline = Baseline(baseline)
    curve_eps = tuple(epsilons) if is_private(config.model, 1.0) else ()
    own_in_curve = config.epsilon in curve_eps
    total = 1 + (not own_in_curve) + len(curve_eps) + shadows + 1
    done = no_signal = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    rng = np.random.default_rng(seed)
    train, test = split_customers_items(data, holdout, rng)
    with tempfile.TemporaryDirectory(prefix="shopveil-scorecard-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'scorecard-ledger.db'}")
        try:
            ledger = Ledger(
                store,
                default_total=ApproxDP(1e9, 0.5),
                people_key=PeopleKey(secrets.token_bytes(32)),
            )

            def score(recommender: Recommender) -> Evaluation:
                nonlocal no_signal
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", NoSignalWarning)
                    fitted = recommender.fit(train, FitContext(ledger=ledger, dataset="scorecard"))
                no_signal += any(issubclass(w.category, NoSignalWarning) for w in caught)
                tick()
                return evaluate(fitted, train, test, k=k)

            base = score(ALS() if baseline is Baseline.ALS else Popularity())
            curve: list[CurvePoint] = []
            fits: dict[float, Evaluation] = {}
            for epsilon in curve_eps:
                fits[epsilon] = e = score(build_recommender(config.model, epsilon, options))
                curve.append(CurvePoint(float(epsilon), e.all.recall, e.all.ndcg))
            utility = fits.get(config.epsilon or math.inf)
            if utility is None:
                utility = score(build_recommender(config.model, config.epsilon, options))
        finally:
            store.close()
    membership = membership_attack(
        data, config, progress=lambda j, _n: progress(done + j, total) if progress else None
    )
    return ModelScorecard(
        model=path.name,
        kind=file.kind,
        epsilon=file.privacy.epsilon,
        delta=file.privacy.delta,
        mechanism=file.privacy.mechanism,
        unit=file.privacy.unit,
        membership=membership,
        utility=utility,
        baseline=base,
        curve=tuple(curve),
        ledger=ledger_refs(audit, file.privacy.dataset),
        no_signal_fits=no_signal + membership.no_signal_fits,
        baseline_model=baseline,
    )
