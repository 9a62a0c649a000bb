"""``synthesize``: charge the release once, leave identifiers out, fit MST, draw rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.classes import ColumnClass
from shopveil._core.rng import secure_rng
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.data import check_column_names
from shopveil.dp import Ledger, People
from shopveil.dp.hazmat import Rng, as_bits
from shopveil.errors import InputError, ParameterError, PrivacyError, SchemaError
from shopveil.synth._aim import AimPlan, fit_aim
from shopveil.synth._domain import Categorical, Numeric, column_kind
from shopveil.synth._mst import fit_tree, measure_one_way, noise_plan, split_budget
from shopveil.synth._options import Synthetic, SynthMethod, SynthOptions

if TYPE_CHECKING:
    from shopveil.policy import Policy

__all__ = ["STEPS", "Drawn", "Spec", "fit_and_draw", "identifier_columns", "synthesize"]

STEPS = ("1-way marginals", "selection", "measurement", "sampling")
"""The steps ``on_step`` reports, in order (AIM selects and measures in rounds: it reports
selection at its first round and measurement at its last)."""


def identifier_columns(
    table: pa.Table, policy: Policy | None = None, *, scan: bool = True
) -> dict[str, str]:
    """The direct identifiers of ``table``, each with where that was decided.

    A column the policy names as a direct identifier is one; with ``scan``, so is a column
    detection classifies as one (its name or sampled values), unless the policy names it
    as something else.
    """
    found: dict[str, str] = {}
    named = dict(policy.columns) if policy is not None else {}
    for name, rule in named.items():
        if name in table.column_names and rule.column_class is ColumnClass.DIRECT_IDENTIFIER:
            found[name] = f"direct identifier ({rule.where})"
    if scan:
        from shopveil.detect import scan_table

        for finding in scan_table(table).columns:
            if finding.column in named or finding.column in found:
                continue
            if finding.column_class is ColumnClass.DIRECT_IDENTIFIER:
                found[finding.column] = f"direct identifier (scan: {finding.kind.value})"
    return found


def synthesize(
    table: pa.Table,
    options: SynthOptions,
    *,
    ledger: Ledger,
    dataset: str,
    unit: PrivacyUnit | None = None,
    request_id: str | None = None,
    policy: Policy | None = None,
    scan: bool = True,
    rng: Rng = None,
    on_step: Callable[[str], None] | None = None,
) -> Synthetic:
    """A DP synthetic copy of ``table``, charged to ``ledger`` once as ``options.budget``.

    Parameters
    ----------
    table
        The input rows.
    options
        Budget, method, rows and binning (:class:`SynthOptions`).
    ledger, dataset, unit
        Where the release is charged: ``dataset``'s account for ``unit``. With
        :class:`PerCustomer`, one row per customer is kept (their first), every customer
        is charged, and those who cannot afford it are left out; with :class:`PerRow`
        (the default), every row must be a different person.
    request_id
        The ledger's idempotency key; a paid id is refused (a second draw would be a
        second release).
    policy
        Its direct identifiers, and its ``dp:`` bounds where ``options`` gives none.
    scan
        Also leave out the columns detection classifies as direct identifiers.
    rng
        Noise source (a CSPRNG by default); a NumPy generator also draws the rows.
    on_step
        Called with each of :data:`STEPS` as it starts.

    Returns
    -------
    Synthetic
        The rows and what was released about them.
    """
    if not isinstance(table, pa.Table):
        raise ParameterError(f"table must be a pyarrow.Table, got {type(table).__name__}")
    check_column_names(table.column_names, "the data")
    unit = unit if unit is not None else PerRow()
    dropped = _dropped(table, options, unit, policy, scan)
    kept = [c for c in table.column_names if c not in dropped]
    if not kept:
        raise SchemaError("every column is an identifier or excluded; nothing is left to model")
    if isinstance(unit, PerRow):
        _refuse_repeated_ids(table, dropped)
    bounds = dict(policy.dp.bounds) if policy is not None else {}
    bounds.update(options.bounds)
    encoders = [_encoder(name, table.schema.field(name).type, options, bounds) for name in kept]
    private = sum(isinstance(e, str) for e in encoders)
    rho, delta_select = split_budget(options.budget, private)
    if table.num_rows == 0:
        raise InputError("the data has no rows; nothing to synthesize")

    request_id = request_id or uuid.uuid4().hex
    what = f"synth {options.method.value} of {len(kept)} columns"
    table = _charge(table, ledger, request_id, dataset, unit, options, what)
    source = table.select(kept)
    spec = Spec(options.method, rho, delta_select)
    drawn = fit_and_draw(source, encoders, spec, rng, options.rows, on_step)
    return Synthetic(
        table=drawn.table,
        cost=options.budget,
        columns=tuple(kept),
        dropped=dropped,
        edges=drawn.edges,
        categories=drawn.categories,
        request_id=request_id,
    )


@dataclass(frozen=True)
class Spec:
    """What one table's model spends: the method, ρ, δ per privately chosen domain, and
    the rows one person may hold (every count moves by at most this much)."""

    method: SynthMethod
    rho: float
    delta_select: float
    sensitivity: int = 1


@dataclass(frozen=True)
class Drawn:
    """One table's synthetic rows, the marginals it was drawn from and its noisy row count."""

    table: pa.Table
    edges: tuple[tuple[str, ...], ...]
    categories: Mapping[str, int]
    noisy_rows: float


def fit_and_draw(
    source: pa.Table,
    encoders: Sequence[Numeric | Categorical | str],
    spec: Spec,
    rng: Rng,
    rows: int | None,
    on_step: Callable[[str], None] | None = None,
) -> Drawn:
    """Measure ``source`` as ``spec`` says, fit the model, draw ``rows`` (None: the noisy count)."""
    bits = as_bits(rng)
    draws = rng if isinstance(rng, np.random.Generator) else secure_rng()
    columns = len(encoders)
    _step(on_step, 0)
    aim = AimPlan(columns, spec.rho, spec.delta_select, spec.sensitivity)
    mst = noise_plan(spec.rho, columns, spec.delta_select, sensitivity=spec.sensitivity)
    first = aim.one_way() if spec.method is SynthMethod.AIM else mst
    final, histograms, noisy_rows = measure_one_way(source, encoders, first, bits)
    codes = np.column_stack([e.encode(source.column(e.name)) for e in final])
    sizes = [e.size for e in final]
    count = rows if rows is not None else round(noisy_rows)
    if spec.method is SynthMethod.AIM:

        def on_round(index: int) -> None:
            if index == 0:
                _step(on_step, 1)

        model, rounds = fit_aim(
            codes, sizes, histograms, noisy_rows, aim, bits, draws, on_round=on_round
        )
        _step(on_step, 2)
        cliques: Sequence[tuple[int, ...]] = [r.clique for r in rounds]
        _step(on_step, 3)
        drawn = model.sample(count, draws)
    else:
        _step(on_step, 1)
        tree, cliques = fit_tree(
            codes, sizes, histograms, noisy_rows, mst, bits, on_edges=_stepper(on_step)
        )
        _step(on_step, 3)
        drawn = tree.sample(count, draws)
    names = [e.name for e in final]
    return Drawn(
        table=pa.table({e.name: e.decode(drawn[:, k], draws) for k, e in enumerate(final)}),
        edges=tuple(tuple(names[i] for i in clique) for clique in cliques),
        categories={
            e.name: len(e.values)
            for e, given in zip(final, encoders, strict=True)
            if isinstance(given, str) and isinstance(e, Categorical)
        },
        noisy_rows=noisy_rows,
    )


def _step(on_step: Callable[[str], None] | None, index: int) -> None:
    if on_step is not None:
        on_step(STEPS[index])


def _stepper(on_step: Callable[[str], None] | None) -> Callable[[], None]:
    return lambda: _step(on_step, 2)


def _dropped(
    table: pa.Table,
    options: SynthOptions,
    unit: PrivacyUnit,
    policy: Policy | None,
    scan: bool,
) -> dict[str, str]:
    names = set(table.column_names)
    for option, given in (("exclude", options.exclude), ("bounds", options.bounds)):
        unknown = sorted(set(given) - names)
        if unknown:
            raise ParameterError(
                f"{option} names {', '.join(map(repr, unknown))}, not a column of the data; "
                f"its columns are {', '.join(table.column_names)}"
            )
    dropped = {name: "excluded" for name in options.exclude}
    if isinstance(unit, PerCustomer):
        if unit.id_column not in names:
            raise SchemaError(
                f"the privacy unit's column {unit.id_column!r} is not in the data; "
                f"name one of {', '.join(table.column_names)}"
            )
        dropped[unit.id_column] = "privacy unit id"
    for name, why in identifier_columns(table, policy, scan=scan).items():
        dropped.setdefault(name, why)
    return dropped


def _refuse_repeated_ids(table: pa.Table, dropped: Mapping[str, str]) -> None:
    for name, why in dropped.items():
        if not why.startswith("direct identifier"):
            continue
        column = table.column(name)
        present = len(column) - column.null_count
        if pc.count_distinct(column).as_py() < present:
            raise PrivacyError(
                f"column {name!r} repeats ids, so a person may have several rows; "
                f"name the privacy unit (unit=PerCustomer({name!r}), or --privacy-unit {name})"
            )


def _encoder(
    name: str, type_: pa.DataType, options: SynthOptions, bounds: Mapping[str, tuple[float, float]]
) -> Numeric | Categorical | str:
    kind = column_kind(name, type_)
    if kind == "numeric":
        if name not in bounds:
            raise ParameterError(
                f"numeric column {name!r} has no public bounds; give them "
                f"(bounds={{{name!r}: (LOW, HIGH)}}, or --bounds {name}=LOW:HIGH)"
            )
        low, high = bounds[name]
        return Numeric(name, type_, low, high, options.bins)
    if name in options.domains:
        return Categorical(name, type_, options.domains[name])
    return name


def _charge(
    table: pa.Table,
    ledger: Ledger,
    request_id: str,
    dataset: str,
    unit: PrivacyUnit,
    options: SynthOptions,
    what: str,
) -> pa.Table:
    if isinstance(unit, PerCustomer):
        ids = table.column(unit.id_column)
        pids = ledger.hash_ids(ids, unit)
        # One row per customer (their first): each count then moves by at most 1.
        _, first = np.unique(pids, return_index=True)
        first = np.sort(first[pids[first] >= 0])
        table, pids = table.take(pa.array(first)), pids[first]
        people = People(unit.namespace, pids)
        charge = ledger.charge(request_id, dataset, unit, options.budget, people=people, what=what)
        keep = ~np.isin(pids, charge.left_out)
        table = table.filter(pa.array(keep))
    else:
        charge = ledger.charge(request_id, dataset, unit, options.budget, what=what)
    if charge.replayed:
        raise PrivacyError(
            f"request id {request_id!r} already paid for a synthetic table; "
            "use that table, or synthesize again under a new request id (charged again)"
        )
    if table.num_rows == 0:
        raise PrivacyError("no one in the data can afford this release; nothing was drawn")
    return table
