"""Update compression on the uplink: stochastic quantization and top-k with error feedback.

A compressed update is a dict of NumPy arrays (what travels in a Flower ``ArrayRecord``);
:func:`payload_bytes` counts their bytes. What a client's compression drops is kept in
its residual and added to its next update (error feedback, Seide et al. 2014; Stich et
al. 2018), so nothing is lost for good, only delayed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from shopveil.errors import ParameterError

__all__ = ["Compression", "Compressor", "compress", "decompress", "payload_bytes"]


class Compressor(enum.Enum):
    """What a client does to its update before sending it."""

    NONE = "none"
    QUANTIZE = "quantize"
    TOPK = "topk"


@dataclass(frozen=True)
class Compression:
    """A compressor and its setting.

    Parameters
    ----------
    kind
        None, stochastic quantization, or top-k (whose kept values are then quantized too).
    bits
        Bits per kept value (1, 2, 4 or 8).
    fraction
        Top-k: the fraction of coordinates kept (at least one).
    """

    kind: Compressor = Compressor.NONE
    bits: int = 8
    fraction: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.kind, Compressor):
            raise ParameterError(f"kind must be a Compressor, got {self.kind!r}")
        if self.bits not in (1, 2, 4, 8):
            raise ParameterError(f"bits must be 1, 2, 4 or 8, got {self.bits!r}")
        if not 0 < self.fraction <= 1:
            raise ParameterError(f"fraction must be in (0, 1], got {self.fraction!r}")


def payload_bytes(payload: dict[str, np.ndarray]) -> int:
    """Bytes of the arrays on the wire (values only, no framing)."""
    return sum(int(a.nbytes) for a in payload.values())


def _quantize(values: np.ndarray, bits: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    low, high = float(values.min()), float(values.max())
    levels = (1 << bits) - 1
    span = high - low
    scaled = (values - low) / span * levels if span > 0 else np.zeros_like(values)
    # Unbiased stochastic rounding to one of the 2^bits levels.
    codes = np.floor(scaled + rng.random(values.shape)).clip(0, levels).astype(np.uint8)
    if bits < 8:
        per_byte = 8 // bits
        padded = np.zeros(-(-codes.size // per_byte) * per_byte, dtype=np.uint8)
        padded[: codes.size] = codes
        shifts = (np.arange(per_byte, dtype=np.uint8) * bits)[None, :]
        codes = np.bitwise_or.reduce(padded.reshape(-1, per_byte) << shifts, axis=1)
        codes = codes.astype(np.uint8)
    return {"codes": codes, "range": np.array([low, high], dtype=np.float16)}


def _dequantize(payload: dict[str, np.ndarray], bits: int, size: int) -> np.ndarray:
    codes = payload["codes"]
    if bits < 8:
        per_byte = 8 // bits
        shifts = (np.arange(per_byte, dtype=np.uint8) * bits)[None, :]
        codes = ((codes[:, None] >> shifts) & ((1 << bits) - 1)).reshape(-1)
    low, high = (float(v) for v in payload["range"])
    levels = (1 << bits) - 1
    return np.asarray(low + codes[:size].astype(np.float64) / levels * (high - low))


def compress(
    update: np.ndarray, residual: np.ndarray, setting: Compression, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The payload for ``update + residual``, and the new residual (what it left out)."""
    target = np.asarray(update, dtype=np.float64) + residual
    if setting.kind is Compressor.NONE:
        return {"update": target.copy()}, np.zeros_like(target)
    if setting.kind is Compressor.QUANTIZE:
        payload = _quantize(target, setting.bits, rng)
    else:
        k = max(1, round(setting.fraction * target.size))
        index = np.sort(np.argpartition(-np.abs(target), k - 1)[:k])
        index_dtype = np.uint8 if target.size <= 256 else np.uint32
        payload = _quantize(target[index], setting.bits, rng) | {"index": index.astype(index_dtype)}
    sent = decompress(payload, setting, target.size)
    return payload, target - sent


def decompress(payload: dict[str, np.ndarray], setting: Compression, size: int) -> np.ndarray:
    """The update a payload stands for (length ``size``)."""
    if setting.kind is Compressor.NONE:
        return np.asarray(payload["update"], dtype=np.float64)
    if setting.kind is Compressor.QUANTIZE:
        return _dequantize(payload, setting.bits, size)
    index = payload["index"].astype(np.int64)
    out = np.zeros(size)
    out[index] = _dequantize(payload, setting.bits, len(index))
    return out
