"""One file per trained model: its arrays, its configuration and its privacy metadata.

A model file is a NumPy ``.npz`` archive (no pickle: it loads with
``allow_pickle=False``) holding the model's named arrays and one JSON document with the
model kind, its configuration and a :class:`PrivacyMetadata`. Every learn model, private
or not, saves through :func:`save_model`, so a reader always learns what guarantee a model
carries: its budget, its privacy unit, the data window it saw and how it was trained.
Writes are atomic (a temporary file in the same folder, then a rename), so a crash never
leaves half a model behind.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP, Budget, PureDP
from shopveil.errors import ParameterError, SourceError

__all__ = ["FORMAT_VERSION", "ModelFile", "PrivacyMetadata", "load_model", "save_model"]

FORMAT_VERSION = 1
_META_KEY = "__shopveil_model__"
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class PrivacyMetadata:
    """What privacy a trained model has, saved with it.

    Parameters
    ----------
    mechanism
        How it was trained: ``"none"`` (not private), ``"dp-sgd"``, ``"dp-kmeans"``, ...
    budget
        The privacy loss charged for it; ``None`` for a non-private model.
    unit
        The privacy unit the budget protects, e.g. ``"customer:CustomerID"``.
    window_start, window_end
        The training data window ``[start, end)``.
    dataset
        The ledger dataset the budget was charged to.
    params
        Mechanism parameters (noise multiplier, clipping norm, epochs, sample rate, ...).
    """

    mechanism: str
    budget: Budget | None
    unit: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    dataset: str | None = None
    params: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mechanism", "unit"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ParameterError(f"{name} must be a non-empty string, got {value!r}")
        if self.budget is not None and not isinstance(self.budget, PureDP | ApproxDP | ZCDP):
            raise ParameterError(f"budget must be PureDP, ApproxDP, ZCDP or None: {self.budget!r}")
        if (self.budget is None) != (self.mechanism == "none"):
            raise ParameterError(
                f"mechanism {self.mechanism!r} with budget {self.budget}: a private model "
                "needs a budget, and only mechanism='none' may have none"
            )
        for key, value in self.params.items():
            if not isinstance(key, str) or not isinstance(value, Scalar):
                raise ParameterError(f"params[{key!r}] must be a str, number, bool or None")
        object.__setattr__(self, "params", dict(self.params))

    @property
    def private(self) -> bool:
        """True when the model was trained with a DP guarantee."""
        return self.budget is not None

    @property
    def epsilon(self) -> float:
        """ε of the guarantee (``inf`` when not private; ρ-zCDP models report ``nan``)."""
        if self.budget is None:
            return math.inf
        return getattr(self.budget, "epsilon", math.nan)

    @property
    def delta(self) -> float:
        """δ of the guarantee (0 for pure DP, ``nan`` for zCDP and non-private models)."""
        if isinstance(self.budget, ApproxDP):
            return self.budget.delta
        return 0.0 if isinstance(self.budget, PureDP) else math.nan

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601)."""
        return {
            "mechanism": self.mechanism,
            "budget": _budget_json(self.budget),
            "unit": self.unit,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "dataset": self.dataset,
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrivacyMetadata:
        """The inverse of :meth:`to_json`."""
        try:
            return cls(
                mechanism=data["mechanism"],
                budget=_budget_from(data["budget"]),
                unit=data["unit"],
                window_start=_parse_time(data.get("window_start")),
                window_end=_parse_time(data.get("window_end")),
                dataset=data.get("dataset"),
                params=data.get("params") or {},
            )
        except (KeyError, TypeError) as exc:
            raise SourceError(f"privacy metadata is malformed: missing or bad {exc}") from None


@dataclass(frozen=True, eq=False)
class ModelFile:
    """A loaded model: kind, arrays, configuration and privacy metadata."""

    kind: str
    arrays: Mapping[str, np.ndarray]
    privacy: PrivacyMetadata
    config: Mapping[str, Any] = field(default_factory=dict)


def save_model(
    path: str | os.PathLike[str],
    *,
    kind: str,
    arrays: Mapping[str, np.ndarray],
    privacy: PrivacyMetadata,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model atomically to ``path`` (an ``.npz`` archive); returns the path.

    ``config`` must be JSON-serializable (layer sizes, feature names, scaling).
    """
    if not isinstance(privacy, PrivacyMetadata):
        raise ParameterError("privacy must be a PrivacyMetadata; a model never travels without one")
    if _META_KEY in arrays:
        raise ParameterError(f"array name {_META_KEY!r} is reserved")
    document = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "config": dict(config or {}),
        "privacy": privacy.to_json(),
    }
    try:
        meta = json.dumps(document, sort_keys=True, allow_nan=True).encode()
    except TypeError as exc:
        raise ParameterError(f"config is not JSON-serializable: {exc}") from None
    target = Path(path)
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    if any(value.dtype == object for value in payload.values()):
        raise ParameterError("arrays must hold numbers or fixed-width strings, not objects")
    payload[_META_KEY] = np.frombuffer(meta, dtype=np.uint8)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, allow_pickle=False, **payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def load_model(path: str | os.PathLike[str], *, kind: str | None = None) -> ModelFile:
    """Read a model written by :func:`save_model`; ``kind`` checks what it is."""
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise SourceError(f"no model file at {source}") from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"{source} is not a ShopVeil model file: {exc}") from None
    raw = arrays.pop(_META_KEY, None)
    if raw is None:
        raise SourceError(f"{source} has no ShopVeil metadata; it was not written by save_model")
    document = json.loads(raw.tobytes().decode())
    if document.get("format") != FORMAT_VERSION:
        raise SourceError(
            f"{source} has model format {document.get('format')!r}; this version reads "
            f"{FORMAT_VERSION}"
        )
    if not isinstance(document.get("privacy"), dict):
        raise SourceError(
            f"{source} has no privacy metadata (budget, unit, window); train it again with "
            "shopveil train, which writes them"
        )
    if kind is not None and document["kind"] != kind:
        raise SourceError(f"{source} holds a {document['kind']!r} model, not {kind!r}")
    return ModelFile(
        kind=document["kind"],
        arrays=arrays,
        privacy=PrivacyMetadata.from_json(document["privacy"]),
        config=document.get("config", {}),
    )


def _budget_json(budget: Budget | None) -> dict[str, Any] | None:
    if budget is None:
        return None
    if isinstance(budget, ApproxDP):
        return {"kind": "ApproxDP", "epsilon": budget.epsilon, "delta": budget.delta}
    if isinstance(budget, PureDP):
        return {"kind": "PureDP", "epsilon": budget.epsilon}
    return {"kind": "ZCDP", "rho": budget.rho}


def _budget_from(data: Mapping[str, Any] | None) -> Budget | None:
    if data is None:
        return None
    kind = data["kind"]
    if kind == "ApproxDP":
        return ApproxDP(data["epsilon"], data["delta"])
    if kind == "PureDP":
        return PureDP(data["epsilon"])
    if kind == "ZCDP":
        return ZCDP(data["rho"])
    raise SourceError(f"unknown budget kind {kind!r} in model metadata")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
