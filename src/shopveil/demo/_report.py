"""What the demo did: one record per protected table and one for the personalization step.

Plain frozen values, so the HTML page and the terminal view read them without importing
the code that ran the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from shopveil._core.budgets import ApproxDP
from shopveil.detect import ScanReport
from shopveil.policy import Plan

__all__ = ["CustomerPicks", "DemoPersonalization", "DemoReport", "DemoScorecard", "DemoTable"]


@dataclass(frozen=True)
class DemoTable:
    """One protected table: its scan, its plan, a before/after sample and where it went."""

    name: str
    scan: ScanReport
    plan: Plan
    rows_in: int
    rows_out: int
    before: pa.Table
    after: pa.Table
    output: Path
    show_before: bool  # only synthetic rows are shown in clear


@dataclass(frozen=True)
class CustomerPicks:
    """One customer, unnamed: what they bought last, and what the model recommends."""

    bought: tuple[str, ...]
    recommended: tuple[str, ...]


@dataclass(frozen=True)
class DemoScorecard:
    """One scorecard page written beside the summary, and its one-line verdict."""

    name: str
    verdict: str
    html: Path


@dataclass(frozen=True)
class DemoPersonalization:
    """What the personalization step did, or why it was skipped (``note``)."""

    note: str
    model_file: Path | None = None
    privacy: ApproxDP | None = None
    charged_now: bool = False
    recall_new: float | None = None
    popularity_recall_new: float | None = None
    customers: tuple[CustomerPicks, ...] = ()
    scorecard: DemoScorecard | None = None


@dataclass(frozen=True)
class DemoReport:
    tables: tuple[DemoTable, ...]
    output_dir: Path
    html: Path
    audit_events: int
    seconds: float
    personalization: DemoPersonalization
    scorecards: tuple[DemoScorecard, ...] = ()
