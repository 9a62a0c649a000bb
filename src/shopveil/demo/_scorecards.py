"""The demo's scorecards: the protected customers table and the DP recommender, each as
one HTML page beside the summary (see :mod:`shopveil.scorecard`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from shopveil._core.classes import ColumnClass
from shopveil.audit import AuditLog
from shopveil.data import write_text
from shopveil.demo._report import DemoScorecard, DemoTable
from shopveil.errors import MissingExtraError

if TYPE_CHECKING:
    from shopveil.learn import Interactions

__all__ = ["model_scorecard_page", "release_scorecard_page"]

# Small on purpose: the demo stays a few seconds (the full figures are in the benchmarks).
_CURVE = (0.25, 1.0, 4.0)
_SHADOWS = 2


def release_scorecard_page(
    name: str, original: pa.Table, released: DemoTable, audit: AuditLog, folder: Path
) -> DemoScorecard | None:
    """Score one protected table by the quasi-identifiers its plan kept (None without).

    Information loss is measured where the release kept every row, in order.
    """
    plan = released.plan
    qi = [
        s.column
        for s in plan.steps
        if not s.dropped and s.column_class is ColumnClass.QUASI_IDENTIFIER
    ]
    if not qi:
        return None
    try:
        from shopveil.scorecard import release_scorecard, render_scorecard
    except MissingExtraError:
        return None
    aligned = original if original.num_rows == released.rows_out else None
    card = release_scorecard(released.output, qi=qi, original=aligned, audit=audit)
    page = folder / f"scorecard-{name}.html"
    write_text(page, render_scorecard(card))
    return DemoScorecard(name, card.verdict, page)


def model_scorecard_page(
    model: Path, train: Interactions, folder: Path, audit: AuditLog | None
) -> DemoScorecard | None:
    """Score the demo's recommender on its own training purchases, against popularity;
    its charge is cited from ``audit``."""
    try:
        from shopveil.learn import NoSignalWarning
        from shopveil.scorecard import Baseline, model_scorecard, render_scorecard
    except MissingExtraError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        card = model_scorecard(
            model,
            train,
            epsilons=_CURVE,
            shadows=_SHADOWS,
            baseline=Baseline.POPULARITY,
            audit=audit,
        )
    page = folder / "scorecard-recommender.html"
    write_text(page, render_scorecard(card))
    return DemoScorecard("recommender", card.verdict, page)
