"""Vectorized string building: millions of values without a Python loop per row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "by_group",
    "chars_to_strings",
    "concat",
    "digits",
    "fill_pattern",
    "pick",
    "uniform_times",
    "weighted_choice",
]


@cache
def _digits() -> pa.StringArray:
    return pa.array([str(d) for d in range(10)], pa.string())


@cache
def _letters() -> pa.StringArray:
    # Letters that never read as digits, as postcode and reference alphabets avoid I/O/etc.
    return pa.array(list("ABDEFGHJLNPQRSTUWXYZ"), pa.string())


def chars_to_strings(chars: np.ndarray) -> pa.StringArray:
    """Turn an ``(n, width)`` array of ASCII codes into ``n`` strings of ``width`` characters."""
    n, width = chars.shape
    data = np.ascontiguousarray(chars, dtype=np.uint8).tobytes()
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    ).cast(pa.string())


def digits(rng: np.random.Generator, n: int, width: int) -> pa.StringArray:
    """``n`` strings of ``width`` random decimal digits (leading zeros kept)."""
    return chars_to_strings(rng.integers(48, 58, size=(n, width), dtype=np.uint8))


def pick(pool: pa.Array, index: np.ndarray) -> pa.Array:
    """``pool[index]`` for an integer index array."""
    return pool.take(pa.array(index, type=pa.int64()))


def concat(parts: Sequence[pa.Array | str], n: int) -> pa.Array:
    """Join arrays and literal strings element-wise, without a separator."""
    arrays: list[pa.Array | pa.Scalar] = [
        pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts
    ]
    if not any(isinstance(a, pa.Array | pa.ChunkedArray) for a in arrays):
        return pa.array(["".join(p for p in parts if isinstance(p, str))] * n, pa.string())
    return pc.binary_join_element_wise(*arrays, "")


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with probabilities proportional to ``weights``."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").clip(0, len(cdf) - 1)


def fill_pattern(rng: np.random.Generator, pattern: str, n: int) -> pa.Array:
    """``n`` strings shaped like ``pattern``: ``#`` a digit, ``?`` a letter, ``%`` a number
    from 1 to 20, anything else itself (``"SW% #??"`` gives ``"SW19 4QT"``)."""
    parts: list[pa.Array | str] = []
    literal = ""
    for ch in pattern:
        if ch in "#?%":
            if literal:
                parts.append(literal)
                literal = ""
            if ch == "#":
                parts.append(pick(_digits(), rng.integers(0, 10, n)))
            elif ch == "?":
                parts.append(pick(_letters(), rng.integers(0, len(_letters()), n)))
            else:
                parts.append(pc.cast(pa.array(rng.integers(1, 21, n)), pa.string()))
        else:
            literal += ch
    if literal:
        parts.append(literal)
    return concat(parts, n)


def uniform_times(
    rng: np.random.Generator,
    low: np.ndarray,
    high: np.ndarray,
    hour_weights: np.ndarray,
) -> np.ndarray:
    """Times in ``[low day, high day]`` (datetime64[D] arrays) at a daily rhythm, as
    datetime64[s]; hours follow ``hour_weights`` (24 values)."""
    span = (high - low).astype(np.int64) + 1
    day = low + (rng.random(len(span)) * span).astype(np.int64).astype("timedelta64[D]")
    hour = weighted_choice(rng, hour_weights, len(span))
    seconds = hour * 3600 + rng.integers(0, 3600, len(span))
    return day.astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def by_group(
    keys: np.ndarray,
    groups: int,
    make: Callable[[int, np.ndarray], dict[str, pa.Array]],
) -> dict[str, pa.Array]:
    """Build columns group by group, then put the rows back in their original order.

    ``make(g, positions)`` returns the columns for the rows at ``positions`` (all with
    ``keys == g``), in that order. Vectorized work per group, one scatter at the end.
    """
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(groups + 1))
    pieces: dict[str, list[pa.Array]] = {}
    for g in range(groups):
        rows = order[bounds[g] : bounds[g + 1]]
        if len(rows) == 0:
            continue
        for name, array in make(g, rows).items():
            pieces.setdefault(name, []).append(array)
    inverse = pa.array(np.argsort(order, kind="stable"), type=pa.int64())
    return {name: pa.concat_arrays(parts).take(inverse) for name, parts in pieces.items()}
