"""Assessment of a table: k, l, t and re-identification risk, as ARX and pycanon report them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil.anonymity._classes import emd, entropy_l, histograms, recursive_c
from shopveil.anonymity._encode import group_ids
from shopveil.anonymity._prepare import prepare
from shopveil.anonymity._requirements import TDistance
from shopveil.anonymity._risk import expected_inverse_population_size, zayatz_population_uniques
from shopveil.errors import ParameterError

__all__ = ["Assessment", "RiskSummary", "assess"]


@dataclass(frozen=True)
class RiskSummary:
    """One attacker model's risk.

    Attributes
    ----------
    highest
        The largest risk of any record.
    average
        The mean risk over records (the expected fraction re-identified).
    records_at_risk
        Fraction of records whose risk exceeds the assessment's threshold.
    """

    highest: float
    average: float
    records_at_risk: float


@dataclass(frozen=True)
class Assessment:
    """Privacy properties of a table under its quasi-identifiers.

    Attributes
    ----------
    rows, classes
        Records and equivalence classes.
    k
        The smallest class size.
    class_sizes
        ``{size: number of classes of that size}``.
    l, l_entropy, recursive_c
        Distinct l (fewest distinct sensitive values in a class), entropy l
        (``exp(min entropy)``), and the ``c`` needed for recursive (c, l) at the table's
        distinct l (the table is recursive (c, l)-diverse for every ``c`` above it).
        ``None`` without a sensitive attribute; the minimum (maximum for ``c``) over
        several.
    t
        The largest earth mover's distance of a class to the table (max over attributes).
    prosecutor, journalist
        :class:`RiskSummary` per attacker model.
    marketer
        Expected fraction of records a marketer re-identifies.
    sample_uniqueness, population_uniqueness
        Fraction of records unique in the table, and estimated fraction of the
        population unique (Zayatz); equal when the table is the population.
    risk_threshold, population_size
        The threshold behind ``records_at_risk`` and the population assumed.
    """

    rows: int
    classes: int
    k: int
    class_sizes: Mapping[int, int]
    l: int | None  # noqa: E741
    l_entropy: float | None
    recursive_c: float | None
    t: float | None
    prosecutor: RiskSummary
    journalist: RiskSummary
    marketer: float
    sample_uniqueness: float
    population_uniqueness: float
    risk_threshold: float
    population_size: int
    sensitive_t: Mapping[str, float] = field(default_factory=dict)

    @property
    def prosecutor_risk(self) -> float:
        """The highest re-identification risk of any record (1 / smallest class)."""
        return self.prosecutor.highest

    @property
    def journalist_risk(self) -> float:
        """The highest risk of any record when the attacker knows only the population."""
        return self.journalist.highest

    @property
    def marketer_risk(self) -> float:
        """The expected share of records re-identified when all are attacked at once."""
        return self.marketer

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary; ``k``, ``l``, ``t`` and the three ``*_risk`` keys lead."""

        def clean(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else value

        return {
            "k": self.k,
            "l": self.l,
            "t": self.t,
            "prosecutor_risk": self.prosecutor_risk,
            "journalist_risk": self.journalist_risk,
            "marketer_risk": self.marketer_risk,
            "rows": self.rows,
            "classes": self.classes,
            "l_entropy": self.l_entropy,
            "recursive_c": clean(self.recursive_c),
            "class_sizes": {str(size): count for size, count in self.class_sizes.items()},
            "prosecutor": vars(self.prosecutor),
            "journalist": vars(self.journalist),
            "sample_uniqueness": self.sample_uniqueness,
            "population_uniqueness": self.population_uniqueness,
            "risk_threshold": self.risk_threshold,
            "population_size": self.population_size,
            "t_by_attribute": dict(self.sensitive_t),
        }


def assess(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    sensitive: Sequence[str] = (),
    *,
    population_size: int | None = None,
    risk_threshold: float = 0.2,
    t_distance: TDistance = TDistance.AUTO,
) -> Assessment:
    """Measure k, l, t and re-identification risk of ``table``.

    Parameters
    ----------
    table
        An Arrow table or a polars DataFrame.
    qi
        Quasi-identifier columns.
    sensitive
        Sensitive attributes for l-diversity and t-closeness.
    population_size
        Size of the population the table was sampled from; default the table itself.
    risk_threshold
        A record is "at risk" when its risk exceeds this.
    t_distance
        Ground distance for t-closeness (:class:`TDistance`); by default ordered for
        numeric attributes and equal for others, as pycanon does.
    """
    if not 0.0 < risk_threshold <= 1.0:
        raise ParameterError(f"risk_threshold: expected (0, 1], got {risk_threshold!r}")
    prepared = prepare(
        table, qi, sensitive, (), population_size=population_size, need_requirements=False
    )
    t_distance = TDistance(t_distance)
    n, pi = prepared.n, prepared.pi
    ids, sizes = group_ids([c.codes for c in prepared.qi], [c.cardinality for c in prepared.qi])
    size_values, size_counts = np.unique(sizes, return_counts=True)
    l_value = l_entropy = c_value = t_value = None
    t_by: dict[str, float] = {}
    if prepared.sensitives:
        hists = [histograms(ids, len(sizes), s.column.codes, s.m) for s in prepared.sensitives]
        l_value = int(min(int((h > 0).sum(axis=1).min()) for h in hists))
        l_entropy = float(min(float(entropy_l(h).min()) for h in hists))
        c_value = (
            float(max(float(recursive_c(h, l_value).max()) for h in hists))
            if l_value >= 2
            else math.inf
        )
        for sens, hist in zip(prepared.sensitives, hists, strict=True):
            q = hist.sum(axis=0) / n
            t_by[sens.column.name] = float(emd(hist, q, ordered=sens.ordered(t_distance)).max())
        t_value = max(t_by.values())
    prosecutor_class = 1.0 / sizes
    journalist_class = expected_inverse_population_size(sizes, pi)
    prosecutor = _summary(prosecutor_class, sizes, n, risk_threshold)
    journalist = _summary(journalist_class, sizes, n, risk_threshold)
    uniques = int(np.count_nonzero(sizes == 1))
    population_uniques = zayatz_population_uniques(sizes, pi)
    return Assessment(
        rows=n,
        classes=len(sizes),
        k=int(sizes.min()),
        class_sizes=dict(zip(size_values.tolist(), size_counts.tolist(), strict=True)),
        l=l_value,
        l_entropy=l_entropy,
        recursive_c=c_value,
        t=t_value,
        prosecutor=prosecutor,
        journalist=journalist,
        marketer=journalist.average,
        sample_uniqueness=uniques / n,
        population_uniqueness=population_uniques / prepared.population_size,
        risk_threshold=risk_threshold,
        population_size=prepared.population_size,
        sensitive_t=t_by,
    )


def _summary(risk: np.ndarray, sizes: np.ndarray, n: int, threshold: float) -> RiskSummary:
    return RiskSummary(
        highest=float(risk.max()),
        average=float(risk @ sizes / n),
        records_at_risk=float(sizes[risk > threshold + 1e-12].sum() / n),
    )
