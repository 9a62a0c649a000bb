"""What a query with given bounds says about itself: its notes, and its ε split explained."""

from __future__ import annotations

from shopveil._core.units import PerCustomer
from shopveil.dp._query._plan import Plan
from shopveil.dp._query._spec import AggregateFunction

__all__ = ["explain", "notes"]

HISTOGRAM = AggregateFunction.HISTOGRAM


def notes(plan: Plan) -> list[str]:
    unit = plan.unit
    notes = [f"privacy unit: {unit.describe()}"]
    if isinstance(unit, PerCustomer):
        notes.append(
            f"each customer's rows beyond {unit.max_contributions} are dropped at random "
            "before aggregating; rows without a customer id are excluded"
        )
        notes.append(
            "each customer in the data pays this query from their own budget; customers "
            "whose budget is spent are left out"
        )
    estimated = dict(plan.estimated)
    for s in plan.steps:
        if s.bounds is not None and s.aggregate.func is not HISTOGRAM:
            origin = f"from {s.bounds_from}" if s.bounds_from else "given with the query"
            if s.aggregate.alias in estimated:
                origin = "estimated privately"
            notes.append(
                f"{s.aggregate.alias}: values clamped to [{s.bounds[0]:g}, {s.bounds[1]:g}] "
                f"(bounds {origin})"
            )
        if s.aggregate.func is HISTOGRAM:
            notes.append(f"{s.aggregate.alias}: values outside the bins count in the edge bins")
    for alias, (low, high) in plan.estimated:
        notes.append(
            f"{alias}: clamping bounds [{low:g}, {high:g}] were estimated privately "
            f"(ε={plan.estimate_epsilon:.4g} over all estimated bounds)"
        )
    if plan.public_keys and plan.selection_epsilon == 0:
        notes.append("groups are the public keys given; rows with other keys are left out")
    if plan.selection_epsilon > 0:
        notes.append(
            f"groups chosen by DP partition selection (ε={plan.selection_epsilon:.4g}, "
            f"δ={plan.options.delta:g}): groups with few people are not shown"
        )
    notes.append(
        f"intervals cover the noise with probability {1 - plan.options.alpha:g}; "
        "they do not cover sampling error or the effect of clamping and bounding"
    )
    return notes


def explain(plan: Plan) -> list[str]:
    eps = plan.options.epsilon.epsilon + plan.estimate_epsilon
    lines = [f"ε = {eps:g} for the whole query, split before any data is read:"]
    if plan.estimate_epsilon > 0:
        lines.append(
            f"  estimating missing bounds: ε={plan.estimate_epsilon:.4g} (a fifth of ε, "
            "98th percentiles of the values)"
        )
    if plan.selection_epsilon > 0:
        lines.append(
            f"  choosing the groups (GROUP BY keys not given with --keys): "
            f"ε={plan.selection_epsilon:.4g} and δ={plan.options.delta:g}"
        )
    for s in plan.steps:
        lines.append(f"  {s.aggregate.alias}: ε={s.epsilon:.4g}")
    lines.append(
        "why: by weight (each aggregate and the choice of groups weigh 1 unless given); the "
        "bounds and the rows per person were given, so the intervals cover the noise only. "
        "Leave out --bounds and --max-contributions to have them chosen privately, with an "
        "estimate of their bias"
    )
    return lines
