"""Tuning a k-anonymous release: which method, settings and k lose the least.

The search runs the lattice search at each suppression limit and Mondrian in each mode,
at the target k and at larger k (for the front), and measures every result by the same
information loss and re-identification risk. Nothing is released or charged: a
k-anonymity search spends no DP budget, and the table never leaves the process.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import polars as pl
import pyarrow as pa

from shopveil.anonymity import (
    AnonymizationResult,
    Hierarchy,
    KAnonymity,
    MondrianMode,
    anonymize_lattice,
    anonymize_mondrian,
)
from shopveil.errors import ParameterError, PrivacyError, TimeLimitExceeded
from shopveil.tune._pareto import pareto_front

__all__ = [
    "TableCandidate",
    "TableMeasure",
    "TableSpace",
    "TableTarget",
    "TableTuning",
    "tune_table",
]

Progress = Callable[[int, int], None]


class TableMeasure(StrEnum):
    """The information loss a table search minimizes."""

    NCP = "ncp"
    """Normalized certainty penalty: 0 = original, 1 = all hidden (ARX's "loss")."""
    DISCERNIBILITY = "discernibility"
    """Sum of squared class sizes, suppressed rows counting the table's size each."""


@dataclass(frozen=True)
class TableTarget:
    """What every recommended release must meet, and what it is judged by.

    Parameters
    ----------
    k
        Every equivalence class holds at least ``k`` rows.
    risk_ceiling
        The highest marketer risk accepted: the expected share of released rows an
        attacker re-identifies (classes / released rows); None for no ceiling beyond k.
    measure
        The information loss to minimize (:class:`TableMeasure`).
    """

    k: int
    risk_ceiling: float | None = None
    measure: TableMeasure = TableMeasure.NCP

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
            raise ParameterError(f"k: expected an integer >= 2, got {self.k!r}; e.g. k=10")
        ceiling = self.risk_ceiling
        if ceiling is not None and not (isinstance(ceiling, int | float) and 0 < ceiling <= 1):
            raise ParameterError(f"risk_ceiling: expected a share in (0, 1], got {ceiling!r}")
        object.__setattr__(self, "measure", TableMeasure(self.measure))


@dataclass(frozen=True)
class TableSpace:
    """The settings a table search tries.

    Parameters
    ----------
    suppression_limits
        Lattice search: the largest shares of rows it may suppress.
    mondrian_modes
        Mondrian: strict and/or relaxed cuts.
    k_factors
        Multiples of the target k tried too (1 is always tried): larger k lowers the
        risk and raises the loss, which draws the front.
    lattice_time_limit
        Seconds each lattice search may take; one that runs past them is left out.
    """

    suppression_limits: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05)
    mondrian_modes: tuple[MondrianMode, ...] = (MondrianMode.STRICT, MondrianMode.RELAXED)
    k_factors: tuple[float, ...] = (1.0, 2.0, 5.0)
    lattice_time_limit: float = 60.0

    def __post_init__(self) -> None:
        if any(not 0.0 <= s < 1.0 for s in self.suppression_limits):
            raise ParameterError(
                f"suppression_limits: expected shares in [0, 1), got {self.suppression_limits}"
            )
        object.__setattr__(
            self, "mondrian_modes", tuple(MondrianMode(m) for m in self.mondrian_modes)
        )
        if not self.suppression_limits and not self.mondrian_modes:
            raise ParameterError("the space is empty: give suppression limits or Mondrian modes")
        if any(not (f >= 1.0 and math.isfinite(f)) for f in self.k_factors):
            raise ParameterError(f"k_factors: expected numbers >= 1, got {self.k_factors}")
        if not self.lattice_time_limit > 0:
            raise ParameterError(
                f"lattice_time_limit: expected seconds > 0, got {self.lattice_time_limit!r}"
            )

    def settings(self, k: int) -> list[tuple[int, str, dict[str, Any]]]:
        """Every (k, method, settings) the search runs, the target k first."""
        ks = sorted({k, *(math.ceil(k * f) for f in self.k_factors)})
        out: list[tuple[int, str, dict[str, Any]]] = []
        for each in ks:
            out += [(each, "mondrian", {"mode": m.value}) for m in self.mondrian_modes]
            out += [(each, "lattice", {"suppression_limit": s}) for s in self.suppression_limits]
        return out


@dataclass(frozen=True)
class TableCandidate:
    """One run of the search: its settings and what it cost, or why it has no table."""

    method: str
    k: int
    settings: Mapping[str, Any]
    ncp: float | None
    discernibility: float | None
    suppressed_share: float | None
    min_class_size: int | None
    risk: float | None
    seconds: float
    outcome: str  # "ok", or why there is no table
    meets_target: bool = False
    on_front: bool = False
    default: bool = False

    def loss(self, measure: TableMeasure) -> float | None:
        """The candidate's value of ``measure``."""
        return self.ncp if measure is TableMeasure.NCP else self.discernibility

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {**vars(self), "settings": dict(self.settings)}


@dataclass(frozen=True)
class TableTuning:
    """The search's candidates, its front and the recommended point.

    ``release`` is the recommended point's anonymized table and report (not written
    anywhere). ``best_default`` is the lower loss of the two methods at their default
    settings (Mondrian strict, lattice without suppression) at the target k.
    """

    target: TableTarget
    candidates: tuple[TableCandidate, ...]
    recommended: TableCandidate
    release: AnonymizationResult[Any] = field(repr=False)

    @property
    def front(self) -> tuple[TableCandidate, ...]:
        """The candidates on the Pareto front of (loss, risk), lowest loss first."""
        on = [c for c in self.candidates if c.on_front]
        return tuple(sorted(on, key=lambda c: (c.loss(self.target.measure), c.risk)))

    @property
    def best_default(self) -> TableCandidate | None:
        """The better of the two methods at their default settings at the target k."""
        defaults = [c for c in self.candidates if c.default and c.ncp is not None]
        return min(defaults, key=lambda c: c.loss(self.target.measure) or 0.0, default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the target, the recommendation, the defaults and every candidate."""
        best = self.best_default
        return {
            "kind": "table",
            "target": {
                "k": self.target.k,
                "risk_ceiling": self.target.risk_ceiling,
                "measure": self.target.measure.value,
            },
            "recommended": self.recommended.to_dict(),
            "best_default": None if best is None else best.to_dict(),
            "front": [c.to_dict() for c in self.front],
            "candidates": [c.to_dict() for c in self.candidates],
            "epsilon_charged": 0.0,
        }


def _run(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy] | None,
    k: int,
    method: str,
    settings: Mapping[str, Any],
    sensitive: Sequence[str],
    time_limit: float,
) -> AnonymizationResult[Any]:
    requirements = [KAnonymity(k)]
    if method == "mondrian":
        return anonymize_mondrian(
            table, qi, requirements, sensitive=sensitive, mode=MondrianMode(settings["mode"])
        )
    return anonymize_lattice(
        table,
        qi,
        hierarchies,
        requirements,
        float(settings["suppression_limit"]),
        sensitive=sensitive,
        time_limit=time_limit,
    )


def tune_table(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    target: TableTarget,
    *,
    hierarchies: Mapping[str, Hierarchy] | None = None,
    space: TableSpace | None = None,
    sensitive: Sequence[str] = (),
    progress: Progress | None = None,
) -> TableTuning:
    """Search methods, settings and k for the least loss that meets ``target``.

    Every setting of ``space`` runs on ``table`` (which is not changed); the
    recommended point is the lowest ``target.measure`` among the results with k at
    least ``target.k`` and marketer risk within ``target.risk_ceiling``, ties going to
    the lower risk. The front is over (loss, risk).

    Raises
    ------
    ParameterError
        No quasi-identifiers are declared.
    PrivacyError
        No setting meets the target.
    """
    if not qi:
        raise ParameterError("no quasi-identifiers declared: name them (qi=[...], --qi A,B,C)")
    space = space or TableSpace()
    runs = space.settings(target.k)
    candidates: list[TableCandidate] = []
    best: tuple[tuple[float, float], int, AnonymizationResult[Any]] | None = None
    for done, (k, method, settings) in enumerate(runs, 1):
        started = time.perf_counter()
        default = k == target.k and settings in ({"mode": "strict"}, {"suppression_limit": 0.0})
        try:
            result = _run(
                table, qi, hierarchies, k, method, settings, sensitive, space.lattice_time_limit
            )
        except TimeLimitExceeded:
            outcome = f"stopped after its time limit of {space.lattice_time_limit:g} s"
        except PrivacyError as exc:
            outcome = f"no table: {exc}"
        else:
            u = result.utility
            risk = u.classes / u.released_rows if u.released_rows else 0.0
            meets = u.min_class_size >= target.k and (
                target.risk_ceiling is None or risk <= target.risk_ceiling
            )
            candidate = TableCandidate(
                method,
                k,
                settings,
                u.ncp,
                u.discernibility,
                u.suppressed_rows / u.rows,
                u.min_class_size,
                risk,
                time.perf_counter() - started,
                "ok",
                meets,
                default=default,
            )
            loss = candidate.loss(target.measure)
            assert loss is not None
            if meets and (best is None or (loss, risk) < best[0]):
                best = ((loss, risk), len(candidates), result)
            candidates.append(candidate)
            if progress is not None:
                progress(done, len(runs))
            continue
        elapsed = time.perf_counter() - started
        candidates.append(
            TableCandidate(
                method,
                k,
                settings,
                None,
                None,
                None,
                None,
                None,
                elapsed,
                outcome,
                default=default,
            )
        )
        if progress is not None:
            progress(done, len(runs))
    if best is None:
        ceiling = "" if target.risk_ceiling is None else f" within risk {target.risk_ceiling:g}"
        raise PrivacyError(
            f"no setting meets k = {target.k}{ceiling}; relax the ceiling or widen the space"
        )
    scored = [i for i, c in enumerate(candidates) if c.ncp is not None]
    points: list[tuple[float, float]] = []
    for i in scored:
        value, share = candidates[i].loss(target.measure), candidates[i].risk
        assert value is not None and share is not None
        points.append((value, share))
    for i, on in zip(scored, pareto_front(points), strict=True):
        if on:
            candidates[i] = dataclasses.replace(candidates[i], on_front=True)
    return TableTuning(target, tuple(candidates), candidates[best[1]], best[2])
