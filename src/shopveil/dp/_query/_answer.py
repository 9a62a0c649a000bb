"""What a DP query returns: rows of noisy values with intervals, and the budget state."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP

__all__ = ["Answer", "Cell", "budget_dict", "budget_from_dict"]


@dataclass(frozen=True)
class Cell:
    """A released value and its (1 − α) noise interval.

    ``low``/``high`` bound the value; quantiles give ``rank_error`` instead (the released
    value's rank is within that many rows of the target rank). With automatic bounds,
    ``bias`` estimates what clipping left out (the truth is about ``value + bias``),
    ``bias_error`` is that estimate's half-width, ``low_with_bias``/``high_with_bias``
    cover the truth itself with probability 1 − α, and ``flag`` marks a cell whose bias
    may be larger than its noise.
    """

    value: float | int | None
    low: float | None = None
    high: float | None = None
    rank_error: float | None = None
    bias: float | None = None
    bias_error: float | None = None
    low_with_bias: float | None = None
    high_with_bias: float | None = None
    flag: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The cell as plain JSON-ready values."""
        out: dict[str, Any] = {"value": self.value, "low": self.low, "high": self.high}
        if self.rank_error is not None:
            out["rank_error"] = self.rank_error
        if self.low_with_bias is not None or self.bias is not None:
            out["bias"] = self.bias
            out["bias_error"] = self.bias_error
            out["low_with_bias"] = self.low_with_bias
            out["high_with_bias"] = self.high_with_bias
            out["flag"] = self.flag
        return out

    def render_bias(self) -> str:
        """The bias estimate and the interval that includes it; ``!`` flags the cell."""
        if self.value is None or (self.bias is None and self.low_with_bias is None):
            return "-"
        mark = " !" if self.flag else ""
        if self.low_with_bias is None or self.high_with_bias is None:
            return f"unbounded{mark}"
        interval = f"[{_fmt(self.low_with_bias)}, {_fmt(self.high_with_bias)}]"
        if self.bias is None:
            return interval + mark
        spread = f" ± {_fmt(self.bias_error)}" if self.bias_error is not None else ""
        return f"{_signed(self.bias)}{spread} → {interval}{mark}"

    def render(self) -> str:
        """The cell as text for a table: the value and its interval."""
        if self.value is None:
            return "-"
        if self.rank_error is not None:
            return f"{_fmt(self.value)} (rank ±{self.rank_error:.0f})"
        if self.low is None or self.high is None:
            return _fmt(self.value)
        return f"{_fmt(self.value)} ± {_fmt((self.high - self.low) / 2)}"


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "") + _fmt(value)


def _fmt(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.2f}" if abs(value) < 1e15 else f"{value:.4g}"


def budget_dict(b: Budget) -> dict[str, float]:
    """A budget's parameters by name (``epsilon``, ``delta`` or ``rho``), for JSON."""
    if isinstance(b, PureDP):
        return {"epsilon": b.epsilon}
    if isinstance(b, ApproxDP):
        return {"epsilon": b.epsilon, "delta": b.delta}
    return {"rho": b.rho}


def budget_from_dict(d: dict[str, float]) -> Budget:
    if "rho" in d:
        return ZCDP(d["rho"])
    if "delta" in d:
        return ApproxDP(d["epsilon"], d["delta"])
    return PureDP(d["epsilon"])


@dataclass(frozen=True)
class Answer:
    """A DP query's released table.

    ``rows`` map each output column to a group key (plain value) or a :class:`Cell`.
    ``cost`` was charged to the ledger before this answer was made available;
    ``budget_left`` is what the account has left after it.
    """

    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    cost: Budget
    dataset: str
    unit: str
    request_id: str
    notes: tuple[str, ...] = ()
    budget_left: Budget | None = None
    budget_total: Budget | None = None
    default_budget: bool = False
    replayed: bool = False
    split: tuple[tuple[str, float], ...] = field(default=())
    explain: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain JSON-ready values."""
        rows = [
            {c: (v.to_dict() if isinstance(v, Cell) else v) for c, v in row.items()}
            for row in self.rows
        ]
        return {
            "dataset": self.dataset,
            "unit": self.unit,
            "request_id": self.request_id,
            "columns": list(self.columns),
            "rows": rows,
            "cost": budget_dict(self.cost),
            "budget_split": dict(self.split),
            "budget_left": budget_dict(self.budget_left) if self.budget_left else None,
            "budget_total": budget_dict(self.budget_total) if self.budget_total else None,
            "default_budget": self.default_budget,
            "replayed": self.replayed,
            "notes": list(self.notes),
            "explain": list(self.explain),
        }

    def to_json(self) -> str:
        """The answer as one JSON document."""
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Answer:
        """The answer stored by :meth:`to_json` (a replayed request)."""
        d = json.loads(text)
        cells = []
        for row in d["rows"]:
            cells.append({c: (Cell(**v) if isinstance(v, dict) else v) for c, v in row.items()})
        return cls(
            columns=tuple(d["columns"]),
            rows=tuple(cells),
            cost=budget_from_dict(d["cost"]),
            dataset=d["dataset"],
            unit=d["unit"],
            request_id=d["request_id"],
            notes=tuple(d["notes"]),
            split=tuple(d.get("budget_split", {}).items()),
            explain=tuple(d.get("explain", ())),
        )

    def with_budget(self, left: Budget, total: Budget, *, default: bool, replayed: bool) -> Answer:
        """This answer with the account's budget left and total attached."""
        return replace(
            self, budget_left=left, budget_total=total, default_budget=default, replayed=replayed
        )

    def value(self, column: str, **keys: Any) -> Cell:
        """The cell of ``column`` in the row whose group keys equal ``keys``."""
        for row in self.rows:
            if all(row.get(k) == v for k, v in keys.items()):
                cell = row[column]
                if isinstance(cell, Cell):
                    return cell
        raise KeyError(f"no released row with {keys}")
