"""Mondrian multidimensional partitioning (LeFevre, DeWitt, Ramakrishnan 2006).

Partitions are split level by level, all at once, with numpy: in each round every open
partition picks its widest quasi-identifier (normalized range), its records are sorted
by that column within the partition (one sort for all partitions), and the median cut
is kept when both halves meet every requirement; otherwise the next-widest column is
tried. Strict Mondrian keeps equal values on one side; relaxed Mondrian cuts at the exact
median. A partition no column can split becomes an equivalence class.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import cast

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil._core import secure_rng
from shopveil.anonymity._classes import class_failures
from shopveil.anonymity._classifier import Cover
from shopveil.anonymity._encode import EncodedColumn, encode_column, from_arrow, group_ids
from shopveil.anonymity._prepare import AnonymizationResult, Prepared, build_output, prepare
from shopveil.anonymity._requirements import KAnonymity, MaxRisk, Requirement
from shopveil.anonymity._utility import ClassifierSetup, utility_report
from shopveil.errors import ParameterError, PrivacyError

__all__ = ["MondrianMode", "anonymize_mondrian"]


class MondrianMode(StrEnum):
    """How a partition is cut at the median."""

    STRICT = "strict"
    """Equal values stay together: partitions do not overlap."""
    RELAXED = "relaxed"
    """Cut between values when that works, else at the exact median, splitting equal
    values: more cuts, less loss."""


def anonymize_mondrian(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    requirements: Sequence[Requirement],
    *,
    sensitive: Sequence[str] = (),
    mode: MondrianMode = MondrianMode.STRICT,
    population_size: int | None = None,
    classifier_target: str | None = None,
    rng: np.random.Generator | None = None,
) -> AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]:
    """Partition the table until no cut keeps every requirement; generalize each class.

    Numeric quasi-identifiers become ``[low, high]`` ranges, others the set of values in
    the class (``{a, b}``). No row is suppressed. Parameters are those of
    :func:`anonymize_lattice`; ``mode`` chooses strict or relaxed cuts.

    Raises
    ------
    PrivacyError
        When the whole table does not meet the requirements (then no partition can).
    """
    prepared = prepare(table, qi, sensitive, requirements, population_size=population_size)
    mode = MondrianMode(mode)
    checker = _Checker(prepared)
    everything = np.zeros(prepared.n, dtype=np.int64)
    if checker.failed(everything, np.array([prepared.n]), np.arange(prepared.n))[0]:
        raise PrivacyError(
            "the whole table does not meet the requirements, so no partition can; "
            "relax l or t, or add rows"
        )
    classes = _partition(prepared, checker, mode)
    return _release(prepared, classes, classifier_target, rng, table)


class _Checker:
    """Checks candidate partitions against the requirements."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.needs_sensitive = any(
            not isinstance(r, KAnonymity | MaxRisk) for r in prepared.requirements
        )
        self.only_k = all(isinstance(r, KAnonymity) for r in prepared.requirements)
        self.k = prepared.k or 1
        self.reference = [
            np.bincount(s.column.codes, minlength=s.m) / prepared.n for s in prepared.sensitives
        ]

    def failed(self, ids: np.ndarray, sizes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Which of the groups (``ids`` over ``rows``, of ``sizes``) break a requirement."""
        if self.only_k:
            return np.asarray(sizes < self.k)
        sensitives = self.prepared.sensitives if self.needs_sensitive else ()
        return class_failures(
            ids,
            sizes,
            sensitives,
            self.prepared.requirements,
            pi=self.prepared.pi,
            codes=[s.column.codes[rows] for s in sensitives],
            reference=self.reference if sensitives else None,
        ).failed


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] .. starts[i] + sizes[i] - 1`` for every ``i``, concatenated."""
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(sizes) - sizes
    return np.repeat(starts - offsets, sizes) + np.arange(total, dtype=np.int64)


def _partition(prepared: Prepared, checker: _Checker, mode: MondrianMode) -> np.ndarray:
    """Each row's class id."""
    n = prepared.n
    codes = np.stack([_split_order(c) for c in prepared.qi])
    d = len(prepared.qi)
    radix = int(codes.max()) + 1
    perm = np.arange(n, dtype=np.int64)
    starts = np.array([0], dtype=np.int64)
    sizes = np.array([n], dtype=np.int64)
    classes = np.full(n, -1, dtype=np.int64)
    next_class = 0
    k = checker.k
    while len(starts):
        spans = np.empty((len(starts), d))
        for j, column in enumerate(prepared.qi):
            spans[:, j] = _spans(column, codes[j][perm], starts, sizes)
        order = np.argsort(-spans, axis=1, kind="stable")
        cuts = np.full(len(starts), -1, dtype=np.int64)
        pending = np.flatnonzero(sizes >= 2 * k)
        for attempt in range(d):
            if not len(pending):
                break
            dims = order[pending, attempt]
            pending = pending[spans[pending, dims] > 0]
            dims = order[pending, attempt]
            if not len(pending):
                break
            found = _try_cuts(codes, perm, starts, sizes, pending, dims, radix, checker, mode)
            cuts[pending] = found
            pending = pending[found < 0]
        done = cuts < 0
        if done.any():
            rows = perm[_ranges(starts[done], sizes[done])]
            count = int(done.sum())
            classes[rows] = np.repeat(np.arange(next_class, next_class + count), sizes[done])
            next_class += count
        split = ~done
        left = cuts[split]
        new_sizes = np.stack([left, sizes[split] - left], axis=1).ravel()
        keep = _ranges(starts[split], sizes[split])
        perm = perm[keep]
        starts = np.cumsum(new_sizes) - new_sizes
        sizes = new_sizes
    return classes


_POPCOUNT = getattr(np, "bitwise_count", None)  # numpy >= 2.0


def _split_order(column: EncodedColumn) -> np.ndarray:
    """Codes to sort by when cutting: numbers in value order, other values by descending
    frequency, so a median cut sets a dominant value apart instead of mixing it with its
    alphabetical neighbours."""
    if column.is_numeric:
        return column.codes
    counts = np.bincount(column.codes, minlength=column.cardinality)
    rank = np.empty(column.cardinality, dtype=column.codes.dtype)
    rank[np.argsort(-counts, kind="stable")] = np.arange(column.cardinality)
    return rank[column.codes]


def _spans(
    column: EncodedColumn, values: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Each partition's normalized certainty penalty in one column: its value range over
    the column's range when numeric, ``(distinct values - 1) / (domain - 1)`` otherwise."""
    if column.numbers is not None:
        numbers = column.numbers
        low = np.minimum.reduceat(values, starts)
        high = np.maximum.reduceat(values, starts)
        width = float(numbers[-1] - numbers[0]) or 1.0
        return np.asarray((numbers[high] - numbers[low]) / width)
    spread = float(max(column.cardinality - 1, 1))
    if column.cardinality <= 64 and _POPCOUNT is not None:
        # A bit per value: the partition's set is an OR, its size a popcount.
        bits = np.left_shift(np.uint64(1), values.astype(np.uint64))
        present = np.bitwise_or.reduceat(bits, starts)
        return np.asarray((_POPCOUNT(present).astype(np.float64) - 1) / spread)
    segment = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)
    pairs, _ = group_ids([segment, values], [len(starts), column.cardinality])
    first = np.zeros(int(pairs.max()) + 1, dtype=np.int64)
    first[pairs] = np.arange(len(values))
    distinct = np.bincount(segment[first], minlength=len(starts))
    return np.asarray((distinct - 1) / spread)


def _try_cuts(
    codes: np.ndarray,
    perm: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    segments: np.ndarray,
    dims: np.ndarray,
    radix: int,
    checker: _Checker,
    mode: MondrianMode,
) -> np.ndarray:
    """Sort ``segments`` by their chosen column and return a valid cut per segment (or -1).

    Sorting reorders ``perm`` in place within each segment; that is harmless when no cut
    is found, since a partition's order does not matter.
    """
    seg_sizes = sizes[segments]
    positions = _ranges(starts[segments], seg_sizes)
    local = np.repeat(np.arange(len(segments), dtype=np.int64), seg_sizes)
    rows = perm[positions]
    values = codes[np.repeat(dims, seg_sizes), rows]
    keys = local * radix + values
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    rows = rows[order]
    perm[positions] = rows
    offsets = np.cumsum(seg_sizes) - seg_sizes
    median = keys[offsets + (seg_sizes - 1) // 2]
    below = np.searchsorted(keys, median, side="left") - offsets
    through = np.searchsorted(keys, median, side="right") - offsets
    # Prefer the more balanced of the two strict cuts around the median value; relaxed
    # Mondrian falls back to the exact median, splitting a run of equal values.
    near = np.abs(2 * through - seg_sizes) <= np.abs(2 * below - seg_sizes)
    candidates = [np.where(near, through, below), np.where(near, below, through)]
    if mode is MondrianMode.RELAXED:
        candidates.append(seg_sizes // 2)
    chosen = np.full(len(segments), -1, dtype=np.int64)
    for cut in candidates:
        open_ = chosen < 0
        ok = open_ & (cut >= checker.k) & (seg_sizes - cut >= checker.k)
        if checker.only_k:
            chosen[ok] = cut[ok]
            continue
        if not ok.any():
            continue
        sel = np.flatnonzero(ok)
        sel_positions = _ranges(offsets[sel], seg_sizes[sel])
        within = sel_positions - np.repeat(offsets[sel], seg_sizes[sel])
        side = 2 * np.repeat(np.arange(len(sel)), seg_sizes[sel]) + (
            within >= np.repeat(cut[sel], seg_sizes[sel])
        )
        side_sizes = np.stack([cut[sel], seg_sizes[sel] - cut[sel]], axis=1).ravel()
        bad = checker.failed(side, side_sizes, rows[sel_positions]).reshape(-1, 2).any(axis=1)
        chosen[sel[~bad]] = cut[sel[~bad]]
    return chosen


def _release(
    prepared: Prepared,
    classes: np.ndarray,
    classifier_target: str | None,
    rng: np.random.Generator | None,
    like: pa.Table | pl.DataFrame,
) -> AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]:
    n_classes = int(classes.max()) + 1
    labels, record_ncp, covers = [], [], []
    for column in prepared.qi:
        generalized, ncp, cover = _generalize(column, classes, n_classes)
        labels.append(generalized)
        record_ncp.append(ncp)
        covers.append(cover)
    released = np.ones(prepared.n, dtype=bool)
    output = build_output(prepared, labels, released)
    setup = None
    target = classifier_target or (
        prepared.sensitives[0].column.name if prepared.sensitives else None
    )
    if target is not None:
        if target in {c.name for c in prepared.qi} or target not in prepared.source.column_names:
            raise ParameterError(
                f"classifier_target {target!r} must be a column that is not a quasi-identifier"
            )
        setup = ClassifierSetup(
            encode_column(prepared.source, target),
            prepared.qi,
            covers,
            rng if rng is not None else secure_rng(),
        )
    utility = utility_report(
        qi=[c.name for c in prepared.qi],
        ids=classes,
        released=released,
        record_ncp=record_ncp,
        k=prepared.k,
        classifier=setup,
    )
    return cast(
        "AnonymizationResult[pa.Table] | AnonymizationResult[pl.DataFrame]",
        AnonymizationResult(from_arrow(output, like), utility, "mondrian", prepared.requirements),
    )


def _generalize(
    column: EncodedColumn, classes: np.ndarray, n_classes: int
) -> tuple[tuple[np.ndarray, list[str | None]], np.ndarray, Cover]:
    """Per-row label codes and label texts, per-row NCP, and the classifier cover."""
    order = np.argsort(classes, kind="stable")
    bounds = np.searchsorted(classes[order], np.arange(n_classes))
    values = column.codes[order]
    # One per class, widened: the classifier's cover computes ``high - low + 1``.
    low = np.minimum.reduceat(values, bounds).astype(np.int64)
    high = np.maximum.reduceat(values, bounds).astype(np.int64)
    if column.numbers is not None:
        numbers = column.numbers
        width = float(numbers[-1] - numbers[0])
        pair_ids, pair_sizes = group_ids([low, high], [column.cardinality] * 2)
        first = np.zeros(len(pair_sizes), dtype=np.int64)
        first[pair_ids] = np.arange(n_classes)
        texts: list[str | None] = []
        for lo, hi in zip(low[first].tolist(), high[first].tolist(), strict=True):
            texts.append(
                column.labels[lo] if lo == hi else f"[{column.labels[lo]}, {column.labels[hi]}]"
            )
        class_ncp = (numbers[high] - numbers[low]) / width if width > 0 else np.zeros(n_classes)
        cover = Cover(classes, column.cardinality, lo=low, hi=high)
        return (pair_ids[classes], texts), class_ncp[classes], cover
    pairs, _ = group_ids([classes, column.codes], [n_classes, column.cardinality])
    first = np.zeros(int(pairs.max()) + 1, dtype=np.int64)
    first[pairs] = np.arange(len(classes))
    pair_class, pair_code = classes[first], column.codes[first]
    distinct = np.bincount(pair_class, minlength=n_classes)
    spread = max(column.cardinality - 1, 1)
    class_ncp = (distinct - 1) / spread
    sets: dict[tuple[int, ...], int] = {}
    class_label = np.empty(n_classes, dtype=np.int64)
    texts = []
    cut = np.searchsorted(pair_class, np.arange(n_classes + 1))
    for c in range(n_classes):
        members = tuple(pair_code[cut[c] : cut[c + 1]].tolist())
        label = sets.get(members)
        if label is None:
            label = sets[members] = len(texts)
            names = [str(column.labels[m]) for m in members]
            texts.append(names[0] if len(names) == 1 else "{" + ", ".join(names) + "}")
        class_label[c] = label
    cover = Cover(classes, column.cardinality, pair_group=pair_class, leaf=pair_code)
    return (class_label[classes], texts), class_ncp[classes], cover
