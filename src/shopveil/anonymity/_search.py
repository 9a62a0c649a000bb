"""Optimal full-domain generalization: a pruned search of the generalization lattice.

A lattice node gives each quasi-identifier a hierarchy level. The search visits nodes in
ascending order of a lower bound of their information loss and stops once the bound
reaches the best loss found, so the answer is optimal for the chosen loss. When the
requirements are monotone under generalization (k-anonymity, distinct l-diversity and
class risk with suppression; every supported requirement without it), a node that fails
proves all its specializations fail, and those are skipped unevaluated (predictive
tagging, as in Flash and OLA).

All work happens on the de-duplicated, integer-encoded table; generalizing is an array
lookup per column and grouping is one mixed-radix key.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from shopveil.anonymity._classes import class_failures
from shopveil.anonymity._encode import group_ids
from shopveil.anonymity._hierarchy import LevelMaps
from shopveil.anonymity._prepare import Prepared
from shopveil.anonymity._requirements import (
    KAnonymity,
    LDiversity,
    LDiversityVariant,
    MaxRisk,
    Requirement,
)
from shopveil.errors import TimeLimitExceeded

__all__ = ["LatticeNode", "Loss", "Search", "optimum"]


class Loss(StrEnum):
    """The information loss the lattice search minimizes."""

    NCP = "ncp"
    """Normalized certainty penalty (ARX's generalized loss); suppressed rows cost 1."""
    DISCERNIBILITY = "discernibility"
    """Sum of squared class sizes; a suppressed row costs the table size."""


@dataclass(frozen=True)
class LatticeNode:
    """One evaluated node: its levels, whether it meets the requirements, and its loss."""

    levels: tuple[int, ...]
    anonymous: bool
    suppressed: int
    loss: float


class Search:
    """The de-duplicated table and the per-level lookup arrays of one search."""

    def __init__(
        self,
        prepared: Prepared,
        maps: Sequence[LevelMaps],
        limit: float,
        time_limit: float | None = None,
    ) -> None:
        # Checked at every node evaluated: a search over many quasi-identifiers can take
        # far longer than its caller is willing to wait.
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.time_limit = time_limit
        self.prepared = prepared
        self.maps = list(maps)
        self.n = prepared.n
        self.d = len(maps)
        self.limit_rows = int(np.floor(limit * self.n + 1e-9))
        self.needs_sensitive = any(
            not isinstance(r, KAnonymity | MaxRisk) for r in prepared.requirements
        )
        sensitives = prepared.sensitives if self.needs_sensitive else ()
        columns = [c.codes for c in prepared.qi] + [s.column.codes for s in sensitives]
        cards = [c.cardinality for c in prepared.qi] + [s.m for s in sensitives]
        row_ids, weights = group_ids(columns, cards)
        first = np.zeros(len(weights), dtype=np.int64)
        first[row_ids] = np.arange(self.n)  # any row stands for its identical copies
        self.weights = weights.astype(np.float64)
        # Widened once: every node indexes the level maps with them, and numpy converts
        # narrow index arrays on each use.
        self.qcodes = [c.codes[first].astype(np.intp) for c in prepared.qi]
        self.scodes = [s.column.codes[first].astype(np.intp) for s in sensitives]
        self.ncp = [[lm.ncp(level) for level in range(lm.height)] for lm in self.maps]
        counts = [np.bincount(c.codes, minlength=c.cardinality) for c in prepared.qi]
        # Loss from generalization alone, per column and level: the exact loss of a node
        # without suppression and a lower bound with it.
        self.level_loss = [
            np.array([float(cnt @ ncp[lm.maps[lv]]) for lv, ncp in enumerate(self.ncp[j])])
            for j, (lm, cnt) in enumerate(zip(self.maps, counts, strict=True))
        ]
        # A node's grouping key is built from two halves of the columns, each cached per
        # combination of its levels: two lookups per node instead of one per column.
        heights = [lm.height for lm in self.maps]
        order = sorted(range(self.d), key=lambda j: -heights[j])
        self.halves: tuple[list[int], list[int]] = ([], [])
        sizes = [1, 1]
        for j in order:
            side = 0 if sizes[0] <= sizes[1] else 1
            self.halves[side].append(j)
            sizes[side] *= heights[j]
        self._cache: dict[tuple[int, tuple[int, ...]], tuple[np.ndarray, int, np.ndarray]] = {}

    def _half(self, side: int, levels: Sequence[int]) -> tuple[np.ndarray, int, np.ndarray]:
        columns = self.halves[side]
        key = (side, tuple(levels[j] for j in columns))
        cached = self._cache.get(key)
        if cached is None:
            gen = [self.maps[j].maps[levels[j]][self.qcodes[j]] for j in columns]
            cards = [self.maps[j].cardinality(levels[j]) for j in columns]
            if gen:
                code, sizes = group_ids(gen, cards)
                ncp = sum(self.ncp[j][levels[j]][g] for j, g in zip(columns, gen, strict=True))
            else:
                code, sizes = np.zeros(len(self.weights), dtype=np.int64), np.ones(1)
                ncp = np.zeros(len(self.weights))
            cached = (code, len(sizes), np.asarray(ncp, dtype=np.float64))
            self._cache[key] = cached
        return cached

    def lower_bound(self, levels: Sequence[int], loss: Loss) -> float:
        if loss is Loss.NCP:
            total = sum(self.level_loss[j][lv] for j, lv in enumerate(levels))
            return float(total / (self.n * self.d))
        k = self.prepared.k or 1
        return float(self.n * min(k, self.n))

    def evaluate(
        self,
        levels: Sequence[int],
        loss: Loss | None,
        requirements: Sequence[Requirement] | None = None,
    ) -> tuple[LatticeNode, np.ndarray]:
        """Evaluate a node against ``requirements`` (default all); ``loss=None`` skips loss."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeLimitExceeded(
                f"the lattice search ran past its time limit of {self.time_limit:g} s; "
                "give it more time or fewer quasi-identifiers"
            )
        reqs = self.prepared.requirements if requirements is None else tuple(requirements)
        sens_needed = any(not isinstance(r, KAnonymity | MaxRisk) for r in reqs)
        left, left_card, left_ncp = self._half(0, levels)
        right, right_card, right_ncp = self._half(1, levels)
        ids, _ = group_ids([left, right], [left_card, right_card])
        sizes = np.bincount(ids, weights=self.weights).astype(np.int64)
        fails = class_failures(
            ids,
            sizes,
            self.prepared.sensitives if sens_needed else (),
            reqs,
            pi=self.prepared.pi,
            refit_t=self.limit_rows > 0,
            codes=self.scodes if sens_needed else (),
            weights=self.weights,
        ).failed
        suppressed = int(sizes[fails].sum())
        if loss is None:
            value = float("nan")
        elif loss is Loss.NCP:
            row_ncp = left_ncp + right_ncp
            kept = ~fails[ids]
            total = float(self.weights[kept] @ row_ncp[kept]) + suppressed * self.d
            value = total / (self.n * self.d)
        else:
            value = float(np.sum(sizes[~fails].astype(np.float64) ** 2) + suppressed * self.n)
        anonymous = suppressed <= self.limit_rows
        return LatticeNode(tuple(levels), anonymous, suppressed, value), fails


def _monotone_part(requirements: Sequence[Requirement], limit_rows: int) -> tuple[Requirement, ...]:
    """The requirements whose failure at a node implies failure at its specializations."""
    if limit_rows == 0:
        return tuple(requirements)
    return tuple(
        r
        for r in requirements
        if isinstance(r, KAnonymity | MaxRisk)
        or (isinstance(r, LDiversity) and r.variant is LDiversityVariant.DISTINCT)
    )


def optimum(search: Search, loss: Loss) -> LatticeNode | None:
    heights = [lm.height for lm in search.maps]
    nodes = np.array(list(itertools.product(*(range(h) for h in heights))), dtype=np.int64)
    bounds = np.array([search.lower_bound(node, loss) for node in nodes.tolist()])
    requirements = search.prepared.requirements
    monotone = _monotone_part(requirements, search.limit_rows)
    candidates = np.ones(len(nodes), dtype=bool)
    if monotone:
        # With NCP a passing node's loss is at most its bound plus the suppressed share,
        # so nodes whose bound exceeds that need not be classified; this holds only when
        # passing the monotone part means passing everything.
        complete = len(monotone) == len(requirements)
        slack = search.limit_rows / search.n if loss is Loss.NCP and complete else None
        candidates = _classify(search, nodes, heights, monotone, bounds, slack)
    exact = len(monotone) == len(requirements) and loss is Loss.NCP and search.limit_rows == 0
    order = np.lexsort((nodes.sum(axis=1), bounds))
    best: LatticeNode | None = None
    for index in order.tolist():
        if best is not None and bounds[index] >= best.loss - 1e-12:
            break
        if not candidates[index]:
            continue
        levels = nodes[index].tolist()
        if exact:
            # No suppression and a fully classified lattice: the loss is the bound itself.
            return LatticeNode(tuple(levels), True, 0, float(bounds[index]))
        result, _ = search.evaluate(levels, loss)
        if result.anonymous and (best is None or result.loss < best.loss - 1e-12):
            best = result
    return best


def _classify(
    search: Search,
    nodes: np.ndarray,
    heights: Sequence[int],
    requirements: Sequence[Requirement],
    bounds: np.ndarray,
    slack: float | None,
) -> np.ndarray:
    """Which nodes meet monotone ``requirements``, evaluating few of them.

    Like Flash: walk up a path of unclassified nodes, binary-search it for the lowest
    passing node, and tag every generalization of a passing node as passing and every
    specialization of a failing node as failing. With ``slack``, a passing node's loss is
    at most its bound plus ``slack``; nodes bounded above the best such ceiling are left
    unclassified (reported as not passing), since none of them can be optimal.
    """
    count = len(nodes)
    ceiling = np.inf
    strides = np.ones(len(heights), dtype=np.int64)
    for j in range(len(heights) - 2, -1, -1):
        strides[j] = strides[j + 1] * heights[j + 1]
    status = np.zeros(count, dtype=np.int8)  # 0 unknown, 1 passes, -1 fails
    top = np.asarray(heights, dtype=np.int64) - 1
    for start in np.argsort(nodes.sum(axis=1), kind="stable").tolist():
        if status[start] or bounds[start] > ceiling:
            continue
        path = [start]
        current = start
        while True:
            levels = nodes[current]
            step = next(
                (
                    current + int(strides[j])
                    for j in range(len(heights))
                    if levels[j] < top[j] and status[current + int(strides[j])] == 0
                ),
                None,
            )
            if step is None:
                break
            path.append(step)
            current = step
        low, high = 0, len(path) - 1
        while low <= high:
            middle = (low + high) // 2
            index = path[middle]
            if status[index] == 0:
                node = nodes[index]
                result, _ = search.evaluate(node.tolist(), None, requirements)
                unknown = status == 0
                if result.anonymous:
                    status[unknown & np.all(nodes >= node, axis=1)] = 1
                    if slack is not None:
                        ceiling = min(ceiling, float(bounds[index]) + slack)
                else:
                    status[unknown & np.all(nodes <= node, axis=1)] = -1
            if status[index] == 1:
                high = middle - 1
            else:
                low = middle + 1
    return status == 1
