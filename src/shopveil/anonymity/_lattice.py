"""Optimal full-domain generalization with user hierarchies (ARX's CSV format).

The search itself lives in :mod:`shopveil.anonymity._search`; this module checks the
inputs, runs it, and builds the released table and its utility report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil._core import secure_rng
from shopveil._core.hierarchy import Hierarchy
from shopveil.anonymity._classes import class_failures
from shopveil.anonymity._classifier import Cover
from shopveil.anonymity._encode import encode_column, from_arrow, group_ids
from shopveil.anonymity._hierarchy import LevelMaps, hierarchies_for
from shopveil.anonymity._prepare import AnonymizationResult, Prepared, build_output, prepare
from shopveil.anonymity._requirements import Requirement
from shopveil.anonymity._search import LatticeNode, Loss, Search, optimum
from shopveil.anonymity._utility import ClassifierSetup, utility_report
from shopveil.errors import ParameterError, PrivacyError

__all__ = ["LatticeNode", "Loss", "anonymize_lattice", "evaluate_node"]


def evaluate_node(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    requirements: Sequence[Requirement],
    levels: Sequence[int],
    *,
    suppression_limit: float = 0.0,
    sensitive: Sequence[str] = (),
    loss: Loss = Loss.NCP,
) -> LatticeNode:
    """Evaluate one lattice node: whether it meets the requirements, and its loss."""
    prepared = prepare(table, qi, sensitive, requirements)
    search = Search(prepared, hierarchies_for(prepared.qi, hierarchies), suppression_limit)
    return search.evaluate(_check_levels(levels, search.maps), Loss(loss))[0]


def _check_levels(levels: Sequence[int], maps: Sequence[LevelMaps]) -> tuple[int, ...]:
    if len(levels) != len(maps) or any(
        not 0 <= lv < lm.height for lv, lm in zip(levels, maps, strict=False)
    ):
        heights = [lm.height for lm in maps]
        raise ParameterError(
            f"levels: {list(levels)} is not a node of a lattice of heights {heights}"
        )
    return tuple(int(lv) for lv in levels)


def anonymize_lattice(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy] | None,
    requirements: Sequence[Requirement],
    suppression_limit: float = 0.0,
    *,
    sensitive: Sequence[str] = (),
    loss: Loss = Loss.NCP,
    population_size: int | None = None,
    classifier_target: str | None = None,
    rng: np.random.Generator | None = None,
    time_limit: float | None = None,
) -> AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]:
    """Full-domain generalization with the least loss that meets every requirement.

    Parameters
    ----------
    table
        An Arrow table or a polars DataFrame; the result is the same kind.
    qi
        Quasi-identifier columns.
    hierarchies
        A :class:`Hierarchy` per quasi-identifier; a column without one gets doubling
        intervals when numeric and ``value -> *`` otherwise.
    requirements
        :class:`KAnonymity`, :class:`LDiversity`, :class:`TCloseness`, :class:`MaxRisk`.
    suppression_limit
        The largest fraction of rows that may be removed to meet the requirements.
    sensitive
        Sensitive attributes that l-diversity and t-closeness apply to.
    loss
        What to minimize (:class:`Loss`).
    population_size
        Size of the population the table samples (journalist risk); default the table.
    classifier_target
        Column for the downstream-classifier measure; default the first sensitive
        attribute. A random fifth of the rows is held out; the classifier learns from the
        released rows of the rest and is tested on the held-out rows' original values.
    rng
        Draws the held-out rows; default a CSPRNG.
    time_limit
        Seconds the search may take; None for no limit.

    Raises
    ------
    PrivacyError
        When no node meets the requirements within the suppression limit.
    TimeLimitExceeded
        When the search runs past ``time_limit``.
    """
    prepared = prepare(table, qi, sensitive, requirements, population_size=population_size)
    if not 0.0 <= suppression_limit < 1.0:
        raise ParameterError(
            f"suppression_limit: expected a fraction in [0, 1), got {suppression_limit!r}; "
            "use e.g. 0.01 for 1%"
        )
    loss = Loss(loss)
    if time_limit is not None and not time_limit >= 0:
        raise ParameterError(f"time_limit: expected seconds >= 0, got {time_limit!r}")
    maps = hierarchies_for(prepared.qi, hierarchies)
    search = Search(prepared, maps, suppression_limit, time_limit)
    best = optimum(search, loss)
    if best is None:
        raise PrivacyError(
            "no generalization meets the requirements within the suppression limit "
            f"({suppression_limit:.1%}); allow more suppression or relax the requirements"
        )
    return _release(prepared, search, best, loss, classifier_target, rng, table)


def _release(
    prepared: Prepared,
    search: Search,
    best: LatticeNode,
    loss: Loss,
    classifier_target: str | None,
    rng: np.random.Generator | None,
    like: pa.Table | pl.DataFrame,
) -> AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]:
    levels = best.levels
    gen = [lm.maps[lv][c.codes] for lm, lv, c in zip(search.maps, levels, prepared.qi, strict=True)]
    cards = [lm.cardinality(lv) for lm, lv in zip(search.maps, levels, strict=True)]
    ids, sizes = group_ids(gen, cards)
    fails = class_failures(
        ids,
        sizes,
        prepared.sensitives,
        prepared.requirements,
        pi=prepared.pi,
        refit_t=search.limit_rows > 0,
    ).failed
    released = ~fails[ids]
    labels = [(g, lm.labels[lv]) for g, lm, lv in zip(gen, search.maps, levels, strict=True)]
    output = build_output(prepared, labels, released)
    classifier = _classifier(prepared, search, gen, levels, classifier_target, rng)
    record_ncp = [ncp[lv][g] for ncp, lv, g in zip(search.ncp, levels, gen, strict=True)]
    names = [c.name for c in prepared.qi]
    utility = utility_report(
        qi=names,
        ids=ids,
        released=released,
        record_ncp=record_ncp,
        k=prepared.k,
        levels=dict(zip(names, levels, strict=True)),
        classifier=classifier,
    )
    result_table = from_arrow(output, like)
    return cast(
        "AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]",
        AnonymizationResult(result_table, utility, "lattice", prepared.requirements),
    )


def _classifier(
    prepared: Prepared,
    search: Search,
    gen: Sequence[np.ndarray],
    levels: Sequence[int],
    target: str | None,
    rng: np.random.Generator | None,
) -> ClassifierSetup | None:
    name = target or (prepared.sensitives[0].column.name if prepared.sensitives else None)
    if name is None:
        return None
    if name in {c.name for c in prepared.qi}:
        raise ParameterError(
            f"classifier_target {name!r} is a quasi-identifier; pick another column"
        )
    column = encode_column(prepared.source, name) if name in prepared.source.column_names else None
    if column is None:
        raise ParameterError(f"classifier_target {name!r} is not a column of the table")
    covers = [
        Cover(
            g,
            lm.column.cardinality,
            pair_group=lm.maps[lv],
            leaf=np.arange(lm.column.cardinality, dtype=np.int64),
        )
        for g, lm, lv in zip(gen, search.maps, levels, strict=True)
    ]
    return ClassifierSetup(column, prepared.qi, covers, rng if rng is not None else secure_rng())
