"""Utility of an anonymized table, reported as ARX reports it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopveil.anonymity._classifier import Cover, naive_bayes_accuracy
from shopveil.anonymity._encode import EncodedColumn

__all__ = ["ClassifierSetup", "UtilityReport", "utility_report"]

_HOLDOUT = 0.2


@dataclass(frozen=True)
class UtilityReport:
    """What an anonymization cost.

    Attributes
    ----------
    rows, released_rows, suppressed_rows
        Input rows, rows in the output, rows removed by suppression.
    classes, min_class_size
        Equivalence classes in the output and the smallest one (the k reached).
    discernibility
        Sum of squared class sizes, plus ``rows`` for each suppressed row (Bayardo-Agrawal).
    average_class_size, normalized_average_class_size
        Released rows per class, and that divided by the required k.
    ncp, ncp_by_attribute
        Normalized certainty penalty (GCP): 0 = original, 1 = all suppressed; averaged over
        rows and quasi-identifiers, suppressed rows counting 1.
    levels
        Generalization level per quasi-identifier (full-domain methods only).
    classifier_target, classifier_accuracy, baseline_accuracy
        Naive Bayes accuracy on held-out original rows when trained on the released rows,
        and when trained on the original rows (see :func:`anonymize_lattice`).
    """

    rows: int
    released_rows: int
    suppressed_rows: int
    classes: int
    min_class_size: int
    discernibility: float
    average_class_size: float
    normalized_average_class_size: float | None
    ncp: float
    ncp_by_attribute: Mapping[str, float] = field(default_factory=dict)
    levels: Mapping[str, int] | None = None
    classifier_target: str | None = None
    classifier_accuracy: float | None = None
    baseline_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["ncp_by_attribute"] = dict(self.ncp_by_attribute)
        out["levels"] = dict(self.levels) if self.levels is not None else None
        return out


@dataclass(frozen=True, eq=False)
class ClassifierSetup:
    """Inputs for the downstream-classifier measure."""

    target: EncodedColumn
    originals: Sequence[EncodedColumn]
    covers: Sequence[Cover]
    rng: np.random.Generator


def utility_report(
    *,
    qi: Sequence[str],
    ids: np.ndarray,
    released: np.ndarray,
    record_ncp: Sequence[np.ndarray],
    k: int | None,
    levels: Mapping[str, int] | None = None,
    classifier: ClassifierSetup | None = None,
) -> UtilityReport:
    """Measure an anonymization given each row's class id and release flag."""
    n = len(released)
    kept = int(np.count_nonzero(released))
    suppressed = n - kept
    sizes = np.bincount(ids[released]) if kept else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    per_attribute = {}
    for name, values in zip(qi, record_ncp, strict=True):
        per_attribute[name] = float((values[released].sum() + suppressed) / n) if n else 0.0
    ncp = float(np.mean(list(per_attribute.values()))) if per_attribute else 0.0
    average = kept / len(sizes) if len(sizes) else 0.0
    accuracy = baseline = None
    target = None
    if classifier is not None and n >= 10:
        target = classifier.target.name
        accuracy, baseline = _accuracies(classifier, released)
    return UtilityReport(
        rows=n,
        released_rows=kept,
        suppressed_rows=suppressed,
        classes=len(sizes),
        min_class_size=int(sizes.min()) if len(sizes) else 0,
        discernibility=float(np.sum(sizes.astype(np.float64) ** 2) + float(suppressed) * n),
        average_class_size=float(average),
        normalized_average_class_size=float(average / k) if k else None,
        ncp=ncp,
        ncp_by_attribute=per_attribute,
        levels=dict(levels) if levels is not None else None,
        classifier_target=target,
        classifier_accuracy=accuracy,
        baseline_accuracy=baseline,
    )


def _accuracies(setup: ClassifierSetup, released: np.ndarray) -> tuple[float, float]:
    n = len(released)
    test = np.zeros(n, dtype=bool)
    test[setup.rng.permutation(n)[: max(1, int(n * _HOLDOUT))]] = True
    y = setup.target.codes.astype(np.int64)  # labels times groups must not wrap
    labels = setup.target.cardinality
    test_x = [column.codes[test] for column in setup.originals]
    train = released & ~test

    def subset(cover: Cover, rows: np.ndarray) -> Cover:
        return Cover(
            cover.group[rows],
            cover.domain,
            lo=cover.lo,
            hi=cover.hi,
            pair_group=cover.pair_group,
            leaf=cover.leaf,
        )

    covers = [subset(cover, train) for cover in setup.covers]
    accuracy = naive_bayes_accuracy(covers, y[train], test_x, y[test], labels)
    base_rows = ~test
    identity = [Cover.identity(c.codes[base_rows], c.cardinality) for c in setup.originals]
    baseline = naive_bayes_accuracy(identity, y[base_rows], test_x, y[test], labels)
    return accuracy, baseline
