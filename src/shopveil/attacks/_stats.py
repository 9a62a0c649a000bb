"""The statistics every attack reports: ROC, AUC, TPR at a fixed FPR, Clopper-Pearson."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from shopveil.errors import ParameterError

__all__ = ["auc", "clopper_pearson", "roc", "tpr_at_fpr"]


def _split(scores: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    members = np.asarray(members, dtype=bool)
    if scores.shape != members.shape or scores.ndim != 1:
        raise ParameterError("scores and members must be 1-D arrays of the same length")
    if not members.any() or members.all():
        raise ParameterError("an attack needs both members and non-members to score")
    return scores[members], scores[~members]


def roc(scores: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of ``score >= t`` over every threshold t, from (0, 0)."""
    inside, outside = _split(scores, members)
    thresholds = np.unique(np.concatenate([inside, outside]))[::-1]
    tpr = 1.0 - np.searchsorted(np.sort(inside), thresholds, side="left") / len(inside)
    fpr = 1.0 - np.searchsorted(np.sort(outside), thresholds, side="left") / len(outside)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


def auc(scores: np.ndarray, members: np.ndarray) -> float:
    """The area under the ROC curve: P(a member scores above a non-member), ties half."""
    inside, outside = _split(scores, members)
    ranks = stats.rankdata(np.concatenate([inside, outside]))
    u = ranks[: len(inside)].sum() - len(inside) * (len(inside) + 1) / 2
    return float(u / (len(inside) * len(outside)))


def tpr_at_fpr(scores: np.ndarray, members: np.ndarray, fpr: float) -> float:
    """The highest TPR of a threshold whose FPR is at most ``fpr`` (0 where none is)."""
    if not 0 < fpr < 1:
        raise ParameterError(f"fpr must be in (0, 1), got {fpr}")
    rates_fp, rates_tp = roc(scores, members)
    ok = rates_fp <= fpr + 1e-12
    return float(rates_tp[ok].max())


def clopper_pearson(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """The two-sided ``1 - alpha`` Clopper-Pearson interval of a binomial proportion."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ParameterError(f"need 0 <= successes <= trials >= 1, got {successes}/{trials}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha}")
    low = 0.0 if successes == 0 else stats.beta.ppf(alpha / 2, successes, trials - successes + 1)
    high = (
        1.0
        if successes == trials
        else stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
    )
    return float(low), float(high) if math.isfinite(high) else 1.0
