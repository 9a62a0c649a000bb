"""Linkage: re-identify customers in a release from a few of their purchases an outsider knows.

The outsider knows, for a target customer, ``known`` of their rows in the original data,
but only the auxiliary columns (``aux``: say the purchase date, the item and the
country, as a shop assistant, a courier or a social-media post reveals them). They look
for the release's records (the rows sharing one value of the release's customer column,
a pseudonym; every row alone when the release has no such column) that hold, for each
known purchase, a row whose aux values are consistent with it. A release value is
consistent with an original value when it equals it, is suppressed (empty or ``*``),
is a set of values that holds it (``{a, b}``, as k-anonymity writes them), a prefix that
ends on a separator (``2011-03`` for ``2011-03-07 10:15``) or a masked prefix (``12***``).

A customer is **re-identified** when their own record is the only consistent one
(singling out, with the link to their identity). ``expected`` is the attacker's success
when they guess among the consistent records at random. The release must keep the
original's rows in order (as ``shopveil anonymize`` writes them), which is how the
attack knows whose each release row was; it prints rates only, never an id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import ParameterError, SchemaError, SourceError

__all__ = ["LinkageConfig", "LinkageResult", "linkage_attack", "linkage_attack_files"]

_SEPARATORS = frozenset("- :T/._")
_CUSTOMER_NAMES = ("customerid", "customer_id", "customer", "user_id", "userid", "user")


@dataclass(frozen=True)
class LinkageConfig:
    """What the outsider knows.

    Parameters
    ----------
    aux
        The quasi-identifiers the outsider knows of each known purchase (columns of
        both tables).
    customer
        The customer column of the original (detected by name when None); the release
        keeps it as pseudonyms, or drops it.
    known
        How many of a target's purchases the outsider knows.
    targets
        How many customers are attacked (a uniform sample; all when None).
    seed
        Seeds the choice of targets and of their known purchases.
    """

    aux: tuple[str, ...]
    customer: str | None = None
    known: int = 3
    targets: int | None = 1000
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "aux", tuple(a for a in self.aux if a))
        if not self.aux:
            raise ParameterError(
                "a linkage attack needs the quasi-identifiers the outsider knows: no aux "
                "column was declared; give --aux COL,... (e.g. --aux InvoiceDate,StockCode)"
            )
        if isinstance(self.known, bool) or not isinstance(self.known, int) or self.known < 1:
            raise ParameterError(f"known must be an int >= 1, got {self.known!r}; e.g. 3")
        t = self.targets
        if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 1):
            raise ParameterError(f"targets must be an int >= 1 or None, got {t!r}")


@dataclass(frozen=True)
class LinkageResult:
    """How many targets the release gave away."""

    reidentified: float
    expected: float
    mean_candidates: float
    targets: int
    records: int
    config: LinkageConfig

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "reidentified": round(self.reidentified, 4),
            "expected": round(self.expected, 4),
            "mean_candidates": round(self.mean_candidates, 2),
            "targets": self.targets,
            "records": self.records,
            "aux": list(self.config.aux),
            "known": self.config.known,
        }


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(column.type):
        column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
    values = pc.cast(column, pa.string()).to_pylist()
    return np.asarray(["" if v is None else v for v in values], dtype=object)


def consistent(released: str, original: str) -> bool:
    """True when ``released`` could be a masked or generalized form of ``original``."""
    if released == original or released in ("", "*"):
        return True
    if released.startswith("{") and released.endswith("}"):
        return original in {v.strip() for v in released[1:-1].split(",")}
    if released.endswith("*"):
        return original.startswith(released.rstrip("*"))
    return (
        len(released) < len(original)
        and original.startswith(released)
        and original[len(released)] in _SEPARATORS
    )


class _ReleasedColumn:
    """A release column's distinct values, indexed to find those consistent with a value.

    Equivalent to testing :func:`consistent` against every distinct value, without the
    scan: exact values and separator-ended prefixes by lookup, sets by their elements.
    """

    def __init__(self, values: np.ndarray) -> None:
        distinct, codes = np.unique(values, return_inverse=True)
        self.codes = codes
        self.exact: dict[str, int] = {}
        self.elements: dict[str, list[int]] = {}
        self.stars: list[tuple[str, int]] = []
        self.anything: list[int] = []
        for k, u in enumerate(distinct):
            if u in ("", "*"):
                self.anything.append(k)
            elif u.startswith("{") and u.endswith("}"):
                for v in {v.strip() for v in u[1:-1].split(",")}:
                    self.elements.setdefault(v, []).append(k)
            elif u.endswith("*"):
                self.stars.append((u.rstrip("*"), k))
            else:
                self.exact[u] = k
        self._cache: dict[str, np.ndarray] = {}

    def matching(self, original: str) -> np.ndarray:
        """The codes of the distinct release values consistent with ``original``."""
        found = self._cache.get(original)
        if found is not None:
            return found
        hits = [*self.anything, *self.elements.get(original, ())]
        hits += [k for prefix, k in self.stars if original.startswith(prefix)]
        for i, char in enumerate(original):
            if i and char in _SEPARATORS and original[:i] in self.exact:
                hits.append(self.exact[original[:i]])
        if original in self.exact:
            hits.append(self.exact[original])
        found = self._cache[original] = np.unique(np.asarray(hits, dtype=np.int64))
        return found


def _find(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[w] for w in wanted if w in lower), None)


def linkage_attack(
    original: pa.Table,
    release: pa.Table,
    config: LinkageConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LinkageResult:
    """Re-identify customers of ``original`` in ``release`` (row-aligned) from aux columns.

    ``progress(done, total)`` is called as the targets are attacked.
    """
    customer = config.customer or _find(original.column_names, _CUSTOMER_NAMES)
    if customer is None or customer not in original.column_names:
        raise SchemaError(
            f"the original has no customer column {config.customer or ''!r}; name it with "
            f"--customer COL (columns: {', '.join(original.column_names)})"
        )
    for name in config.aux:
        for label, table in (("original", original), ("release", release)):
            if name not in table.column_names:
                raise SchemaError(f"aux column {name!r} is not in the {label}; check --aux")
    if original.num_rows != release.num_rows:
        raise ParameterError(
            f"the release has {release.num_rows} rows and the original {original.num_rows}; "
            "the attack needs the release's rows in the original's order (as shopveil "
            "anonymize writes them)"
        )
    owners = _strings(original.column(customer))
    if customer in release.column_names:
        _, records = np.unique(_strings(release.column(customer)), return_inverse=True)
    else:
        records = np.arange(release.num_rows)
    rows_of: dict[str, np.ndarray] = {}
    present = owners != ""
    order = np.argsort(owners[present], kind="stable")
    ids, starts = np.unique(owners[present][order], return_index=True)
    positions = np.flatnonzero(present)[order]
    for k, who in enumerate(ids):
        end = starts[k + 1] if k + 1 < len(ids) else len(order)
        rows_of[who] = positions[starts[k] : end]
    if not rows_of:
        raise ParameterError(f"the original's customer column {customer!r} holds no ids")
    rng = np.random.default_rng(config.seed)
    chosen = list(rows_of)
    if config.targets is not None and config.targets < len(chosen):
        chosen = [chosen[i] for i in rng.choice(len(chosen), config.targets, replace=False)]
    columns = [
        (_strings(original.column(name)), _ReleasedColumn(_strings(release.column(name))))
        for name in config.aux
    ]
    hits, expected, sizes = 0, 0.0, []
    for done, who in enumerate(chosen, 1):
        rows = rows_of[who]
        known = rows if len(rows) <= config.known else rng.choice(rows, config.known, replace=False)
        truth = records[rows[0]]
        candidates: np.ndarray | None = None
        for row in known:
            mask = np.ones(release.num_rows, dtype=bool)
            for values, released in columns:
                mask &= np.isin(released.codes, released.matching(values[row]))
            found = np.unique(records[mask])
            candidates = found if candidates is None else np.intersect1d(candidates, found)
        assert candidates is not None
        sizes.append(len(candidates))
        if truth in candidates:
            expected += 1 / len(candidates)
            hits += len(candidates) == 1
        if progress is not None and (done % 50 == 0 or done == len(chosen)):
            progress(done, len(chosen))
    n = len(chosen)
    return LinkageResult(
        hits / n, expected / n, float(np.mean(sizes)), n, int(records.max()) + 1, config
    )


def linkage_attack_files(
    release: str | os.PathLike[str],
    original: str | os.PathLike[str],
    config: LinkageConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LinkageResult:
    """:func:`linkage_attack` on two files (CSV, Parquet, ...)."""
    from shopveil.data import read_table

    for label, path in (("--release", release), ("--original", original)):
        if not Path(path).exists():
            raise SourceError(f"{label} {path}: no such file")
    return linkage_attack(read_table(original), read_table(release), config, progress=progress)
