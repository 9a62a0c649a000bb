"""Per-class statistics and requirement checks, vectorized over all classes at once.

Everything here works on class ids (``0 .. C-1`` per row) and dense per-class histograms of
each sensitive attribute, so the assessment, the lattice search and Mondrian share one
definition of k, l, t and risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shopveil.anonymity._encode import EncodedColumn
from shopveil.anonymity._requirements import (
    KAnonymity,
    LDiversity,
    LDiversityVariant,
    MaxRisk,
    Requirement,
    RiskModel,
    TCloseness,
    TDistance,
)
from shopveil.anonymity._risk import expected_inverse_population_size
from shopveil.errors import ParameterError

__all__ = [
    "ClassFailures",
    "Sensitive",
    "class_failures",
    "emd",
    "entropy_l",
    "histograms",
    "recursive_c",
]

_MAX_HIST_CELLS = 100_000_000


@dataclass(frozen=True, eq=False)
class Sensitive:
    """A sensitive attribute: its codes and the distribution t-closeness compares with."""

    column: EncodedColumn

    @property
    def m(self) -> int:
        return self.column.cardinality

    def ordered(self, distance: TDistance) -> bool:
        if distance is TDistance.AUTO:
            return self.column.is_numeric
        return distance is TDistance.ORDERED


def histograms(
    ids: np.ndarray,
    n_classes: int,
    codes: np.ndarray,
    m: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``hist[c, v]``: the number of rows of class ``c`` whose sensitive code is ``v``."""
    if n_classes * m > _MAX_HIST_CELLS:
        raise ParameterError(
            f"a sensitive attribute has {m} distinct values over {n_classes} classes, too many "
            "to compare distributions; bin the attribute (e.g. into ranges) first"
        )
    flat = np.bincount(ids * m + codes, weights=weights, minlength=n_classes * m)
    return flat.reshape(n_classes, m).astype(np.int64)


def entropy_l(hist: np.ndarray) -> np.ndarray:
    """``exp(entropy)`` of each class's sensitive values."""
    sizes = hist.sum(axis=1, keepdims=True)
    p = hist / np.maximum(sizes, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(hist > 0, p * np.log(np.where(hist > 0, p, 1.0)), 0.0)
    return np.asarray(np.exp(-terms.sum(axis=1)))


def recursive_c(hist: np.ndarray, l: int) -> np.ndarray:  # noqa: E741
    """The ``c`` each class needs: ``r1 / (r_l + r_l+1 + ...)`` (``inf`` with < l values).

    A class is recursive (c, l)-diverse when ``c`` is strictly larger than this.
    """
    ordered = -np.sort(-hist, axis=1)
    tail = ordered[:, l - 1 :].sum(axis=1) if l - 1 < hist.shape[1] else np.zeros(len(hist))
    with np.errstate(divide="ignore"):
        return np.where(tail > 0, ordered[:, 0] / np.maximum(tail, 1), np.inf)


def emd(hist: np.ndarray, q: np.ndarray, *, ordered: bool) -> np.ndarray:
    """Earth mover's distance of each class's distribution to ``q`` (Li et al., 2007)."""
    sizes = hist.sum(axis=1, keepdims=True)
    p = hist / np.maximum(sizes, 1)
    diff = p - q[None, :]
    m = hist.shape[1]
    if not ordered:
        return np.asarray(0.5 * np.abs(diff).sum(axis=1))
    if m < 2:
        return np.zeros(len(hist))
    return np.asarray(np.abs(np.cumsum(diff, axis=1)[:, :-1]).sum(axis=1) / (m - 1))


def _risk(sizes: np.ndarray, model: RiskModel, pi: float) -> np.ndarray:
    if model is RiskModel.PROSECUTOR:
        return 1.0 / sizes
    return expected_inverse_population_size(sizes, pi)


@dataclass(frozen=True)
class ClassFailures:
    """Which classes fail which requirement (each a boolean array over classes)."""

    failed: np.ndarray
    by_requirement: tuple[tuple[Requirement, np.ndarray], ...]


def class_failures(
    ids: np.ndarray,
    sizes: np.ndarray,
    sensitives: Sequence[Sensitive],
    requirements: Sequence[Requirement],
    *,
    pi: float = 1.0,
    refit_t: bool = False,
    codes: Sequence[np.ndarray] | None = None,
    weights: np.ndarray | None = None,
    reference: Sequence[np.ndarray] | None = None,
) -> ClassFailures:
    """The classes that break any requirement.

    With ``refit_t`` the t-closeness reference is the distribution of the rows that survive
    suppression, recomputed until no further class fails, so the released table is
    t-close by a check of its own rows. ``codes`` and ``weights`` describe rows that stand
    for several records (a de-duplicated table); by default each row is one record.
    """
    n_classes = len(sizes)
    if codes is None:
        codes = [s.column.codes for s in sensitives]
    hists = [
        histograms(ids, n_classes, c, s.m, weights) for s, c in zip(sensitives, codes, strict=True)
    ]
    failed = np.zeros(n_classes, dtype=bool)
    parts: list[tuple[Requirement, np.ndarray]] = []
    t_reqs: list[TCloseness] = []
    for req in requirements:
        if isinstance(req, TCloseness):
            t_reqs.append(req)
            continue
        bad = _static_failure(req, sizes, hists, pi)
        parts.append((req, bad))
        failed |= bad
    if t_reqs and sensitives:
        t_failed = np.zeros(n_classes, dtype=bool)
        per_req = {req: np.zeros(n_classes, dtype=bool) for req in t_reqs}
        while True:
            keep = ~(failed | t_failed)
            grew = False
            for req in t_reqs:
                for i, (sens, hist) in enumerate(zip(sensitives, hists, strict=True)):
                    if reference is not None and not refit_t:
                        q = reference[i]
                    else:
                        total = (hist[keep] if refit_t else hist).sum(axis=0)
                        q = total / max(int(total.sum()), 1)
                    bad = emd(hist, q, ordered=sens.ordered(req.distance)) > req.t + 1e-12
                    grew |= bool((bad & ~(per_req[req] | failed | t_failed)).any())
                    per_req[req] |= bad
            for bad in per_req.values():
                t_failed |= bad
            # Suppressing classes moves the reference distribution; stop at a fixed point.
            if not refit_t or not grew:
                break
        parts.extend(per_req.items())
        failed |= t_failed
    return ClassFailures(failed, tuple(parts))


def _static_failure(
    req: Requirement, sizes: np.ndarray, hists: Sequence[np.ndarray], pi: float
) -> np.ndarray:
    if isinstance(req, KAnonymity):
        return np.asarray(sizes < req.k)
    if isinstance(req, MaxRisk):
        if req.model is RiskModel.MARKETER:
            raise ParameterError(
                "MaxRisk(model='marketer') bounds the whole table, not a class; use it in "
                "gate(), or bound the prosecutor or journalist risk when anonymizing"
            )
        return np.asarray(_risk(sizes, req.model, pi) > req.r + 1e-12)
    assert isinstance(req, LDiversity)
    if not hists:
        raise ParameterError(
            "l-diversity needs a sensitive attribute; pass sensitive=[...] (--sensitive)"
        )
    bad = np.zeros(len(sizes), dtype=bool)
    for hist in hists:
        if req.variant is LDiversityVariant.DISTINCT:
            bad |= (hist > 0).sum(axis=1) < req.l
        elif req.variant is LDiversityVariant.ENTROPY:
            bad |= entropy_l(hist) < req.l - 1e-9
        else:
            assert req.c is not None
            bad |= ~(recursive_c(hist, int(req.l)) < req.c)
    return bad
