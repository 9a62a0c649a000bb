"""Numbers: generalize them to bins, or perturb them while keeping mean and variance."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil._core.rng import secure_rng
from shopveil.errors import ParameterError, SchemaError

__all__ = ["GeneralizeNumber", "NoiseMode", "Perturb", "numbers"]


def numbers(values: pa.Array, column: str) -> np.ndarray:
    """Values as float64 (NaN for null); text that is not a number is an error."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        trimmed = pc.utf8_trim_whitespace(values)
        try:
            parsed = pc.cast(trimmed, pa.float64())
        except pa.ArrowInvalid:
            raise SchemaError(f"column {column!r} holds text that is not a number") from None
        values = parsed
    elif not any(
        check(values.type)
        for check in (
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_null,
            pa.types.is_decimal,
        )
    ):
        raise SchemaError(f"column {column!r} holds {values.type}, not numbers")
    out = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    if np.isinf(out).any():
        raise SchemaError(f"column {column!r} holds infinite values; drop or clip them first")
    return np.asarray(out, dtype=np.float64)


def _format(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class GeneralizeNumber:
    """Numbers as the bin that holds them, written ``lo-hi`` (``20-29``) or ``[lo, hi)``.

    Give either ``width`` (equal bins from ``origin``) or ``edges`` (ascending cut
    points; values below the first edge or at/above the last get the open bins ``<lo``
    and ``>=hi``).
    """

    name: ClassVar[str] = "generalize_number"

    width: float | None = 10
    origin: float = 0
    edges: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.edges is not None:
            edges = tuple(float(e) for e in self.edges)
            if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
                raise ParameterError("edges must be at least two strictly ascending numbers")
            object.__setattr__(self, "edges", edges)
            object.__setattr__(self, "width", None)
        elif (
            self.width is None
            or isinstance(self.width, bool)
            or not isinstance(self.width, int | float)
            or not self.width > 0
            or not math.isfinite(self.width)
        ):
            raise ParameterError(f"width must be a number > 0, got {self.width!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        x = numbers(values, context.column)
        valid = ~np.isnan(x)
        labels = np.empty(len(x), dtype=object)
        if self.edges is not None:
            edges = np.array(self.edges)
            slot = np.searchsorted(edges, x[valid], side="right")
            names = [f"<{_format(edges[0])}"]
            names += [f"[{_format(a)}, {_format(b)})" for a, b in itertools.pairwise(edges)]
            names.append(f">={_format(edges[-1])}")
            labels[valid] = np.array(names, dtype=object)[slot]
        else:
            assert self.width is not None
            low = np.floor((x[valid] - self.origin) / self.width) * self.width + self.origin
            integral = float(self.width).is_integer() and float(self.origin).is_integer()
            labels[valid] = [
                f"{int(lo)}-{int(lo + self.width - 1)}"
                if integral
                else f"[{lo:g}, {lo + self.width:g})"
                for lo in low
            ]
        labels[~valid] = None
        return pa.array(labels, pa.string())


class NoiseMode(StrEnum):
    """How perturbation noise combines with a value: added to it, or multiplied into it."""

    ADDITIVE = "additive"
    MULTIPLICATIVE = "multiplicative"


@dataclass(frozen=True)
class Perturb:
    """Add bounded noise to numbers, then restore the column's mean and variance exactly.

    Parameters
    ----------
    mode
        ``additive``: x + e with e of standard deviation ``scale`` times the column's.
        ``multiplicative``: x · (1 + e) with e of standard deviation ``scale``.
    scale
        Noise strength, in (0, 1].
    bound
        Noise is drawn from a normal distribution truncated at ``bound`` standard
        deviations, so no value moves far.
    rng
        Where the noise comes from: a CSPRNG by default; pass
        :func:`shopveil._core.insecure_seeded_rng` only for experiments.

    The output is float64. After the noise, an affine rescaling gives the column the
    sample mean and variance it had, so aggregates keep their value while single rows
    lose their link to the original number.
    """

    name: ClassVar[str] = "perturb"

    mode: NoiseMode = NoiseMode.ADDITIVE
    scale: float = 0.1
    bound: float = 2.0
    rng: np.random.Generator | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", NoiseMode(self.mode))
        except ValueError:
            raise ParameterError(
                f"mode must be additive or multiplicative, got {self.mode!r}"
            ) from None
        for name, low, high in (("scale", 0.0, 1.0), ("bound", 0.5, 10.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{name} must be a number, got {value!r}")
            if not (low < value <= high if name == "scale" else low <= value <= high):
                raise ParameterError(f"{name} must be in ({low:g}, {high:g}], got {value!r}")
        if self.rng is not None and not isinstance(self.rng, np.random.Generator):
            raise ParameterError("rng must be a numpy Generator, e.g. shopveil._core.secure_rng()")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        x = numbers(values, context.column)
        valid = ~np.isnan(x)
        kept = x[valid]
        out = np.full(len(x), np.nan)
        if len(kept) < 2 or np.std(kept) == 0:
            out[valid] = kept  # nothing to hide behind: a constant stays itself
        else:
            rng = self.rng if self.rng is not None else secure_rng()
            noise = _truncated_normal(rng, len(kept), self.bound)
            if self.mode is NoiseMode.ADDITIVE:
                noisy = kept + self.scale * np.std(kept) * noise
            else:
                noisy = kept * (1.0 + self.scale * noise)
            spread = np.std(noisy)
            if spread == 0:
                out[valid] = kept
            else:
                out[valid] = np.mean(kept) + (noisy - np.mean(noisy)) * (np.std(kept) / spread)
        return pa.array(out, pa.float64(), mask=~valid)


def _truncated_normal(rng: np.random.Generator, size: int, bound: float) -> np.ndarray:
    draws = rng.standard_normal(size)
    outside = np.abs(draws) > bound
    while outside.any():  # resampling keeps the shape of the normal inside the bound
        draws[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(draws) > bound
    return draws
