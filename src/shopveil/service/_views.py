"""What the dashboard and the governance documents read from the workspace: names,
counts and budgets, never a customer's value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shopveil._workspace import Workspace
from shopveil.dp import check_ledger
from shopveil.errors import IntegrityError
from shopveil.governance import BudgetUse, Release

__all__ = ["audit_state", "budget_lines", "budget_uses", "datasets", "releases"]


def datasets(workspace: Workspace) -> list[dict[str, Any]]:
    """The catalog's datasets as JSON (names, units, counts, column names and types)."""
    return [d.to_dict() for d in workspace.catalog.datasets()]


def releases(workspace: Workspace, limit: int = 50) -> list[Release]:
    """The newest ``limit`` audited releases, oldest first."""
    return [Release.from_event(e) for e in workspace.audit.events(action="anonymize.run",
                                                                  limit=limit)]  # fmt: skip


def budget_uses(workspace: Workspace) -> list[BudgetUse]:
    """Every ledger account: total and spent (ε, or ρ for zCDP), and people exhausted."""
    ledger = workspace.ledger
    out = []
    for state in ledger.accounts():
        exhausted = None
        if state.unit != "row":
            exhausted = ledger.spending(state.unit, state.total).exhausted_range()
        out.append(BudgetUse(state.dataset, state.unit, _size(state.total),
                             _size(state.spent), exhausted))  # fmt: skip
    return out


def budget_lines(workspace: Workspace) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per dataset, per analyst: (hours since the dataset's first charge, cumulative spent)."""
    ledger = workspace.ledger
    lines: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for state in ledger.accounts():
        charges = sorted(ledger.history(state.dataset, state.unit, limit=1000), key=lambda c: c.at)
        if not charges:
            continue
        start = datetime.fromisoformat(charges[0].at)
        per: dict[str, list[tuple[float, float]]] = {}
        for charge in charges:
            line = per.setdefault(charge.analyst, [(0.0, 0.0)])
            hours = (datetime.fromisoformat(charge.at) - start).total_seconds() / 3600
            line.append((hours, line[-1][1] + _size(charge.cost)))
        lines[f"{state.dataset} ({state.unit})"] = per
    return lines


def audit_state(workspace: Workspace, limit: int) -> dict[str, Any]:
    """Whether the chain, its checkpoints and the ledger verify, and the newest events."""
    log = workspace.audit
    problem = None
    try:
        count = log.verify()
        problems = check_ledger(workspace.store, log)
        problem = problems[0] if problems else None
    except IntegrityError as exc:
        count, problem = 0, str(exc).splitlines()[0]
    events = [
        {k: v for k, v in e.to_dict().items() if k != "prev_hash"} for e in log.events(limit=limit)
    ]
    return {"verified": problem is None, "events_checked": count, "problem": problem,
            "events": events}  # fmt: skip


def _size(budget: Any) -> float:
    """A budget's size on one axis: ε for pure and approximate DP, ρ for zCDP."""
    for name in ("epsilon", "rho"):
        value = getattr(budget, name, None)
        if value is not None:
            return float(value)
    return 0.0
