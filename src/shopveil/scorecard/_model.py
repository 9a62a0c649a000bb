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
    Recommender,
    build_recommender,
    evaluate,
    is_private,
    load_model,
)
from shopveil.scorecard._refs import LedgerRefs, ledger_refs
from shopveil.store import Store

__all__ = ["CurvePoint", "ModelScorecard", "model_scorecard", "split_customers_items"]

AUC_TOLERANCE = 0.03
"""A private model passes when the membership AUC is within this of 0.5."""


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
        Recall@k, NDCG, coverage, diversity of the model's configuration and of
        non-private ALS, both fitted on the same split.
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

    @property
    def private(self) -> bool:
        """True when the model was trained with DP."""
        return math.isfinite(self.epsilon)

    @property
    def passed(self) -> bool:
        """A private model whose membership AUC is within 0.03 of a coin flip."""
        return self.private and abs(self.membership.best.auc - 0.5) <= AUC_TOLERANCE

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
        return (
            f"{head}: {eps}, membership AUC {auc:.3f}; Recall@{k} "
            f"{self.utility.all.recall:.3f} = {kept:.0%} of non-private ALS"
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
                "tpr_at_1pct_fpr": self.membership.best.tpr_at_1pct_fpr,
                "epsilon_spent": self.ledger.epsilon_spent,
            },
            "utility": metrics(self.utility),
            "baseline": {"model": "als", **metrics(self.baseline)},
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
    audit: AuditLog | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ModelScorecard:
    """Score the model in ``model`` on ``data`` (its customers' purchases).

    The model's configuration (kind, ε, options from its privacy metadata) is refitted on
    a random split of ``data``, with non-private ALS beside it and the kind at each of
    ``epsilons``; the membership attack trains ``shadows`` more. Every fit here goes to
    a scratch ledger that is deleted with the run; nothing is saved or released. A file
    without privacy metadata is refused.
    """
    path = Path(model)
    file = load_model(path)
    config = config_from_model_file(path, shadows=shadows, seed=seed)
    options: Mapping[str, Any] = config.options
    curve_eps = tuple(epsilons) if is_private(config.model, 1.0) else ()
    total = 2 + len(curve_eps) + shadows + 1
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

            utility = score(build_recommender(config.model, config.epsilon, options))
            baseline = score(ALS())
            curve = []
            for epsilon in curve_eps:
                e = score(build_recommender(config.model, epsilon, options))
                curve.append(CurvePoint(float(epsilon), e.all.recall, e.all.ndcg))
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
        baseline=baseline,
        curve=tuple(curve),
        ledger=ledger_refs(audit, file.privacy.dataset),
        no_signal_fits=no_signal + membership.no_signal_fits,
    )
