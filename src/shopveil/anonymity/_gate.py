"""Release gates: a table is published only if k, l, t and risk meet the policy."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil.anonymity._assess import Assessment, assess
from shopveil.anonymity._classes import class_failures
from shopveil.anonymity._encode import group_ids
from shopveil.anonymity._prepare import prepare
from shopveil.anonymity._requirements import (
    KAnonymity,
    LDiversity,
    LDiversityVariant,
    MaxRisk,
    Requirement,
    RiskModel,
    TCloseness,
    describe_requirement,
)
from shopveil.data import write_text
from shopveil.errors import GateFailed, ParameterError, SourceError

__all__ = ["FailingClass", "GateCheck", "GateReport", "check_gate", "gate"]

_LISTED = 1000


@dataclass(frozen=True)
class FailingClass:
    """An equivalence class that breaks a requirement: its size and what it fails.

    Its quasi-identifier values are not kept: the report is written beside a refused
    release and must not publish the very records the gate held back.
    """

    size: int
    fails: tuple[str, ...]


@dataclass(frozen=True)
class GateCheck:
    """One requirement's verdict."""

    requirement: str
    actual: float | None
    passed: bool
    failing_classes: int
    failing_rows: int


@dataclass(frozen=True)
class GateReport:
    """The verdict of a gate, which checks failed, and how many classes fail them.

    ``classes`` lists at most 1000 failing classes (largest first) by size; the counts in
    ``checks`` are complete. Nothing in it is a value from the data: only counts and the
    names of the ``quasi_identifiers`` the classes are formed on.
    """

    passed: bool
    checks: tuple[GateCheck, ...]
    classes: tuple[FailingClass, ...]
    assessment: Assessment
    quasi_identifiers: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.passed

    def failures(self) -> str:
        """The failed checks in one line: ``k >= 5 (actual 2; 3 classes, 4 rows fail)``."""
        return "; ".join(
            f"{c.requirement} (actual {_fmt(c.actual)}; {c.failing_classes} classes, "
            f"{c.failing_rows} rows fail)"
            for c in self.checks
            if not c.passed
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {
            "passed": self.passed,
            "quasi_identifiers": list(self.quasi_identifiers),
            "checks": [vars(check) for check in self.checks],
            "failing_classes": [{"size": c.size, "fails": list(c.fails)} for c in self.classes],
            "assessment": self.assessment.to_dict(),
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the report as JSON, atomically."""
        target = Path(path)
        if not target.parent.is_dir():
            raise SourceError(f"{target.parent}: the report folder does not exist")
        write_text(target, json.dumps(self.to_dict(), indent=2, default=str))


def _actual(req: Requirement, a: Assessment) -> float | None:
    if isinstance(req, KAnonymity):
        return float(a.k)
    if isinstance(req, LDiversity):
        if req.variant is LDiversityVariant.DISTINCT:
            return None if a.l is None else float(a.l)
        if req.variant is LDiversityVariant.ENTROPY:
            return a.l_entropy
        return None
    if isinstance(req, TCloseness):
        return a.t
    if req.model is RiskModel.PROSECUTOR:
        return a.prosecutor.highest
    if req.model is RiskModel.JOURNALIST:
        return a.journalist.highest
    return a.marketer


def check_gate(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    sensitive: Sequence[str],
    requirements: Sequence[Requirement],
    *,
    population_size: int | None = None,
) -> GateReport:
    """Check every requirement and report; never raises for a failing table."""
    prepared = prepare(table, qi, sensitive, requirements, population_size=population_size)
    assessment = assess(table, qi, sensitive, population_size=population_size)
    ids, sizes = group_ids([c.codes for c in prepared.qi], [c.cardinality for c in prepared.qi])
    class_reqs = [
        r
        for r in prepared.requirements
        if not (isinstance(r, MaxRisk) and r.model is RiskModel.MARKETER)
    ]
    failures = class_failures(ids, sizes, prepared.sensitives, class_reqs, pi=prepared.pi)
    by_req = dict(failures.by_requirement)
    checks = []
    for req in prepared.requirements:
        if isinstance(req, MaxRisk) and req.model is RiskModel.MARKETER:
            bad = np.zeros(len(sizes), dtype=bool)
            passed = assessment.marketer <= req.r + 1e-12
        else:
            bad = by_req[req]
            passed = not bool(bad.any())
        checks.append(
            GateCheck(
                requirement=describe_requirement(req),
                actual=_actual(req, assessment),
                passed=passed,
                failing_classes=int(bad.sum()),
                failing_rows=int(sizes[bad].sum()),
            )
        )
    failing = np.flatnonzero(failures.failed)
    failing = failing[np.argsort(-sizes[failing], kind="stable")][:_LISTED]
    listed = []
    for c in failing.tolist():
        fails = tuple(describe_requirement(req) for req, bad in failures.by_requirement if bad[c])
        listed.append(FailingClass(int(sizes[c]), fails))
    passed = all(check.passed for check in checks)
    return GateReport(passed, tuple(checks), tuple(listed), assessment, tuple(qi))


def gate(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    sensitive: Sequence[str],
    requirements: Sequence[Requirement],
    *,
    report_path: str | os.PathLike[str] | None = None,
    population_size: int | None = None,
) -> GateReport:
    """Check the requirements before a release; raise :class:`GateFailed` if any fails.

    The report (written to ``report_path`` when given, pass or fail) counts the failing
    classes and rows per check and lists each failing class by size; no value from the
    data appears in it or in the error message.
    """
    if not requirements:
        raise ParameterError("requirements: a gate needs at least one, e.g. [KAnonymity(5)]")
    report = check_gate(table, qi, sensitive, requirements, population_size=population_size)
    if report_path is not None:
        report.write(report_path)
    if not report.passed:
        where = f"; report: {report_path}" if report_path is not None else ""
        raise GateFailed(f"release gate failed: {report.failures()}{where}")
    return report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
