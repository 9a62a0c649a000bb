"""The Pareto front of a search: the points no other point beats on every objective."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["pareto_front"]


def pareto_front(points: Sequence[tuple[float, ...]]) -> list[bool]:
    """Per point, True when no other point is at least as low on every objective and
    lower on one (every objective is minimized; negate one that is maximized).

    Equal points are all on the front.
    """
    out = []
    for i, p in enumerate(points):
        dominated = any(
            j != i
            and all(a <= b for a, b in zip(q, p, strict=True))
            and any(a < b for a, b in zip(q, p, strict=True))
            for j, q in enumerate(points)
        )
        out.append(not dominated)
    return out
