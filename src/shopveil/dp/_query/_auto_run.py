"""An automatic query from the charge to the answer, and what ``--explain`` says of it.

Same order as every query (:mod:`._engine`): everything that does not depend on the
data (the ε split, every mechanism, the SQL bound to the schema) is settled before
the ledger is charged; then the people's totals are read, the bounds chosen, the
values released with their bias estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.units import PerCustomer
from shopveil.dp._bits import RandomBits
from shopveil.dp._ledger import Charge, Ledger
from shopveil.dp._query._answer import Answer
from shopveil.dp._query._auto_release import check_auto, release, render_auto
from shopveil.dp._query._automatic import (
    AutoPlan,
    Chosen,
    bounds_measurement,
    compile_auto,
    too_few,
)
from shopveil.dp._query._compile import validate_query
from shopveil.dp._query._duckdb import bind, check_numeric_args, run
from shopveil.dp._query._plan import QueryOptions
from shopveil.dp._query._spec import QuerySpec
from shopveil.dp._query._target import Target, charge_target

if TYPE_CHECKING:
    import duckdb

__all__ = ["AutoRun", "run_automatic"]


@dataclass(frozen=True)
class AutoRun:
    charge: Charge
    answer: Answer | None  # None: a replayed charge


def run_automatic(
    con: duckdb.DuckDBPyConnection,
    spec: QuerySpec,
    options: QueryOptions,
    columns: list[str],
    target: Target,
    ledger: Ledger,
    request_id: str | None,
    bits: RandomBits,
    seed: int,
) -> AutoRun:
    """Charge ``options.epsilon``, then choose the bounds and release (see module doc)."""
    validate_query(spec, options, columns)
    plan = compile_auto(spec, options)
    check_numeric_args(
        con,
        [a.arg for a in spec.aggregates if a.arg is not None and a.func.clamps],
    )
    sql = render_auto(plan, seed)
    stats_relation = bind(con, sql.stats_sql)
    n = len(plan.components)
    stand_in = Chosen(0, 1, ((1.0, 1.0),) * n, (0.9,) * n, (1.0,) * n)
    bind(con, sql.release_sql(plan, stand_in))  # schema errors now, before the charge
    check_auto(plan)
    charge = charge_target(
        con, ledger, target, plan.cost, [a.alias for a in spec.aggregates],
        request_id=request_id, analyst=options.analyst, purpose=options.purpose,
    )  # fmt: skip
    if charge.replayed:
        return AutoRun(charge, None)
    stats_relation = bind(con, sql.stats_sql)  # rebound: left-out people are gone now
    per_person = run(stats_relation)
    groups = np.asarray([row[0] for row in per_person], dtype=np.float64)
    totals = [
        np.asarray([row[1 + i] for row in per_person], dtype=np.float64)
        for i in range(len(plan.components))
    ]
    chosen = bounds_measurement(plan)((groups, totals), rng=bits)
    rows = run(bind(con, sql.release_sql(plan, chosen)))
    released = release(plan, chosen, rows, bits)
    answer = _answer(plan, chosen, released.keys, released.cells, target.dataset, charge)
    return AutoRun(charge, answer)


def _answer(
    plan: AutoPlan,
    chosen: Chosen,
    keys: list[tuple[Any, ...]],
    cells: dict[str, Any],
    dataset: str,
    charge: Charge,
) -> Answer:
    spec = plan.spec
    rows = []
    for g, key in enumerate(keys):
        row: dict[str, Any] = {k.alias: _plain(v) for k, v in zip(spec.keys, key, strict=True)}
        for alias, released in cells.items():
            row[alias] = released[g]
        rows.append(row)
    columns = list(spec.columns)
    extra = [k.alias for k in spec.keys if k.alias not in columns]
    return Answer(
        columns=tuple(extra + columns),
        rows=tuple(rows),
        cost=plan.cost,
        dataset=dataset,
        unit=plan.unit.key,
        request_id=charge.request_id,
        notes=tuple(_notes(plan, chosen)),
        split=tuple(plan.split()),
        explain=tuple(explain(plan, chosen)),
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _notes(plan: AutoPlan, chosen: Chosen) -> list[str]:
    unit = plan.unit
    notes = []
    if isinstance(unit, PerCustomer):
        notes.append(f"privacy unit: one customer ({unit.id_column}), all of their rows")
        notes.append("rows without a customer id are excluded")
        notes.append(
            "each customer in the data pays this query from their own budget; customers "
            "whose budget is spent are left out"
        )
    else:
        notes.append("privacy unit: one row")
    who = "customer" if isinstance(unit, PerCustomer) else "row"
    for c, bound in zip(plan.components, chosen.bounds, strict=True):
        if c.exact:
            notes.append(f"{c.name}: each {who} counts once (bound 1: nothing clipped)")
            continue
        notes.append(
            f"{c.name}: each {who}'s contributions clipped to {_g(bound)} in total "
            "(chosen privately)"
        )
    if plan.public_keys and plan.selection_epsilon == 0:
        notes.append("groups are the public keys given; rows with other keys are left out")
    if plan.selection_epsilon > 0:
        notes.append(
            f"groups chosen by DP partition selection (ε={plan.selection_epsilon:.4g}, "
            f"δ={plan.options.delta:g}, each {who} counted in at most {chosen.groups} "
            "groups): groups with few people are not shown"
        )
    a = plan.options.alpha
    notes.append(
        f"± covers the noise with probability {1 - a:g}; the bias column estimates what "
        f"clipping left out, and its interval covers the true value with probability "
        f"{1 - a:g} when no {who}'s total is beyond {plan.settings.bias_reach:g} times its "
        "bound; ! marks a cell whose bias may be larger than its noise"
    )
    return notes


def explain(plan: AutoPlan, chosen: Chosen | None = None) -> list[str]:
    """How the query's ε was split, and why; with ``chosen``, what was chosen."""
    s = plan.settings
    eps = plan.options.epsilon.epsilon
    who = "customer" if isinstance(plan.unit, PerCustomer) else "row"
    lines = [f"ε = {eps:g} for the whole query, split before any data is read:"]
    stats = []
    if plan.searched:
        stats.append("a noisy count of the people")
        stats.append(
            f"the {_pct(s.low_level)} and a high (≥ {_pct(s.high_level)}) percentile of "
            f"each {who}'s total, per aggregate"
        )
    if plan.groups_epsilon > 0:
        stats.append(f"the {_pct(s.groups_level)} percentile of groups per {who}")
    if plan.bounds_epsilon > 0:
        lines.append(
            f"  choosing the bounds: ε={plan.bounds_epsilon:.4g} ({_pct(s.bounds_share)} of "
            f"ε; {', '.join(stats)}; ε={plan.quantile_epsilon:.3g} for each percentile and "
            f"{plan.count_epsilon:.3g} for the count)"
        )
    if plan.selection_epsilon > 0:
        lines.append(
            f"  choosing the groups (GROUP BY keys not given with --keys): "
            f"ε={plan.selection_epsilon:.4g} and δ={plan.options.delta:g} (weight "
            f"{s.selection_weight:g} against one aggregate: big groups pass with little ε)"
        )
    for c in plan.components:
        if c.exact:
            lines.append(
                f"  {c.name}: ε={c.epsilon:.4g}, all of it for the value: each {who} counts "
                "once, so the bound is 1 (nothing to choose, nothing clipped, no bias)"
            )
            continue
        lines.append(
            f"  {c.name}: ε={c.epsilon:.4g} for the value, ε={c.bias_epsilon:.4g} "
            f"({_pct(s.bias_share)} of its share) for the estimate of its clipping bias"
        )
    if plan.searched:
        lines.append(
            f"why: clipping each {who}'s total at C adds noise of about C/ε and loses the "
            f"mass beyond C; the two balance near the bound where about "
            f"{s.clipped_per_epsilon:g}/ε {who}s are clipped, read off the two percentiles "
            "as a power-law tail"
        )
    if chosen is None or (not plan.searched and plan.groups_epsilon == 0):
        return lines
    few = (
        ": too few to read the percentiles, so small bounds are preferred"
        if plan.searched and too_few(plan, chosen.people)
        else ""
    )
    lines.append(f"chosen privately ({chosen.people} people, noisy{few}):")
    for c, (low, high), level, bound in zip(
        plan.components, chosen.quantiles, chosen.levels, chosen.bounds, strict=True
    ):
        if c.exact:
            continue
        lines.append(
            f"  {c.name}: {_pct(s.low_level)} percentile {_g(low)}, {_pct(round(level, 4))} "
            f"percentile {_g(high)} → bound C = {_g(bound)} "
            f"(aiming at {s.clipped_per_epsilon / c.epsilon:.3g} {who}s clipped); bias "
            f"estimated up to {_g(bound * s.bias_reach)}"
        )
    if plan.groups_epsilon > 0:
        lines.append(f"  groups per {who} counted in choosing the groups: {chosen.groups}")
    return lines


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _g(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:.4g}"
