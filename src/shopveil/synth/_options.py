"""What a synthesis is asked for (:class:`SynthOptions`) and returns (:class:`Synthetic`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import pyarrow as pa

from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP
from shopveil.errors import ParameterError

__all__ = ["SynthMethod", "SynthOptions", "Synthetic"]


class SynthMethod(StrEnum):
    """How the synthesizer chooses what to measure."""

    MST = "mst"
    """Noisy 1-way marginals, then the 2-way marginals of a maximum spanning tree of the
    columns chosen with the exponential mechanism (McKenna, Miklau & Sheldon 2021)."""
    AIM = "aim"
    """Noisy 1-way marginals, then rounds that each pick the workload marginal (3-way
    and below) the model gets most wrong and measure it, with the noise annealed
    (McKenna, Mullins, Sheldon & Miklau 2022). Slower than MST; meant to be better on
    3-way marginals."""


@dataclass(frozen=True)
class SynthOptions:
    """A DP synthesis: its budget, its method and how numeric columns are binned.

    Attributes
    ----------
    epsilon, delta
        The release's (ε, δ): it is charged once, as ``ApproxDP(epsilon, delta)``.
    method
        :class:`SynthMethod`.
    rows
        Rows to generate; None generates as many as the (noisy) input count.
    bounds
        Public ``{column: (low, high)}`` for numeric columns; values are clamped into
        them. A numeric column without bounds is refused (bounds read off the data
        would leak its extremes).
    bins
        Equal-width bins per numeric column.
    domains
        Public ``{column: values}`` for categorical columns. A categorical column
        without one keeps the values whose noisy count clears a threshold (Gaussian
        thresholding, paid for with half of ``delta``); the rest become null.
    exclude
        Columns left out of the model and the output.
    """

    epsilon: float
    delta: float = DEFAULT_DELTA
    method: SynthMethod = SynthMethod.MST
    rows: int | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    bins: int = 16
    domains: Mapping[str, tuple[object, ...]] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        budget = ApproxDP(self.epsilon, self.delta)  # checks both values
        if budget.epsilon <= 0 or budget.delta <= 0:
            raise ParameterError(
                f"synthesis needs epsilon > 0 and delta > 0 (Gaussian noise), got {budget}; "
                "e.g. --epsilon 1 --delta 1e-6"
            )
        try:
            object.__setattr__(self, "method", SynthMethod(self.method))
        except ValueError:
            raise ParameterError(
                f"method must be one of {', '.join(m.value for m in SynthMethod)}, "
                f"got {self.method!r}"
            ) from None
        if self.rows is not None and (
            isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 1
        ):
            raise ParameterError(f"rows must be an int >= 1 or None, got {self.rows!r}")
        if (
            isinstance(self.bins, bool)
            or not isinstance(self.bins, int)
            or not 2 <= self.bins <= 256
        ):
            raise ParameterError(f"bins must be an int in [2, 256], got {self.bins!r}")
        for name, pair in self.bounds.items():
            low, high = (float(v) for v in pair)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ParameterError(
                    f"bounds for {name!r} must be finite with low < high, got {pair!r}; "
                    f"e.g. {name}=0:100"
                )
        for name, values in self.domains.items():
            if len(values) == 0 or len(set(values)) != len(values):
                raise ParameterError(
                    f"domain for {name!r} must list distinct values, got {len(values)} values"
                )
        object.__setattr__(
            self,
            "bounds",
            MappingProxyType({k: (float(a), float(b)) for k, (a, b) in self.bounds.items()}),
        )
        object.__setattr__(
            self, "domains", MappingProxyType({k: tuple(v) for k, v in self.domains.items()})
        )
        object.__setattr__(self, "exclude", tuple(self.exclude))

    @property
    def budget(self) -> ApproxDP:
        """What the release costs."""
        return ApproxDP(self.epsilon, self.delta)


@dataclass(frozen=True)
class Synthetic:
    """A synthetic table and how it was made.

    Attributes
    ----------
    table
        The synthetic rows.
    cost
        What was charged to the ledger.
    columns
        The modelled columns.
    dropped
        Columns left out: direct identifiers (policy or scan), the privacy unit's id
        column and ``exclude``; each with the reason.
    edges
        The marginals measured beyond the 1-way ones (column tuples), in the order
        chosen: MST's tree edges, AIM's picks (a marginal may be measured twice).
    categories
        Per categorical column without a public domain, how many values it kept (their
        noisy counts cleared the threshold); the rest come out as null.
    request_id
        The ledger's request id.
    """

    table: pa.Table
    cost: ApproxDP
    columns: tuple[str, ...]
    dropped: Mapping[str, str]
    edges: tuple[tuple[str, ...], ...]
    categories: Mapping[str, int]
    request_id: str

    def summary(self) -> dict[str, object]:
        """A JSON-ready description (no data values)."""
        return {
            "rows": self.table.num_rows,
            "epsilon": self.cost.epsilon,
            "delta": self.cost.delta,
            "columns": list(self.columns),
            "dropped": dict(self.dropped),
            "edges": [list(e) for e in self.edges],
            "categories": dict(self.categories),
            "request_id": self.request_id,
        }
