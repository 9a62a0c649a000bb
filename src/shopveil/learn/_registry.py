"""Recommenders by name (what ``shopveil train --model NAME`` accepts), saving and loading.

A new model is one line in :data:`MODELS` (its factory builds the config from ε and
options) and, to be saved, one line in :data:`LOADERS` (rebuilds the fitted model
from its file). ε is per customer; ``None`` (or ∞) asks for the non-private variant.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from shopveil._core.budgets import DEFAULT_DELTA, ApproxDP, PureDP
from shopveil.errors import ParameterError
from shopveil.learn._als import ALS, ALSModel
from shopveil.learn._baselines import (
    BuyAgain,
    BuyAgainModel,
    DPPopularity,
    Popularity,
    PopularityModel,
)
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_als import DPALS, FittedDPALS
from shopveil.learn._dp_cobuy import DPCoPurchase, FittedCoPurchase
from shopveil.learn._dp_eigen import DPEigen, FittedDPEigen
from shopveil.learn._dp_mf import DPMF, FittedDPMF
from shopveil.learn._interactions import Interactions
from shopveil.learn._itemknn import ItemKNN, ItemKNNModel
from shopveil.learn._model_file import ModelFile, PrivacyMetadata, load_model, save_model
from shopveil.learn._recommender import FittedRecommender, Recommender

__all__ = [
    "LOADERS",
    "MODELS",
    "ModelEntry",
    "ModelPrivacy",
    "build_recommender",
    "is_private",
    "load_recommender",
    "model_names",
    "save_recommender",
]

Options = Mapping[str, Any]

DELTA = DEFAULT_DELTA
"""δ of every (ε, δ) model built by name: below 1 / (number of customers) of a large shop."""


class ModelPrivacy(StrEnum):
    """Whether a named model trains with DP."""

    PRIVATE = "private"  # needs ε
    PUBLIC = "public"  # ignores ε
    EITHER = "either"  # private when given ε (buy-again on DP or exact popularity)


@dataclass(frozen=True)
class ModelEntry:
    """How to build one named model."""

    factory: Callable[[float | None, Options], Recommender]
    privacy: ModelPrivacy
    summary: str


def _dp_popularity(epsilon: float | None, options: Options) -> DPPopularity:
    if epsilon is None:  # build_recommender refuses this first; kept for direct callers
        raise ParameterError("dp-popularity needs a finite epsilon")
    return DPPopularity(PureDP(epsilon), **options)


def _buy_again(epsilon: float | None, options: Options) -> BuyAgain:
    own = {k: v for k, v in options.items() if k == "history_half_life_days"}
    rest = {k: v for k, v in options.items() if k not in own}
    fallback = Popularity() if epsilon is None else _dp_popularity(epsilon, rest)
    return BuyAgain(fallback, **own)


def _dp_cobuy(epsilon: float | None, options: Options) -> DPCoPurchase:
    return DPCoPurchase(None if epsilon is None else ApproxDP(epsilon, DELTA), **options)


def _dp_als(epsilon: float, options: Options) -> DPALS:
    # A larger rank pays off only once the noise is small (measured on Online Retail).
    rank = options.get("rank", 4 if epsilon <= 2 else 16)
    return DPALS(ApproxDP(epsilon, DELTA), **{**options, "rank": rank})


def _dp_eigen(epsilon: float, options: Options) -> DPEigen:
    return DPEigen(ApproxDP(epsilon, DELTA), **options)


def _dp_mf(epsilon: float, options: Options) -> DPMF:
    return DPMF(ApproxDP(epsilon, DELTA), **options)


PRIVATE, PUBLIC, EITHER = ModelPrivacy.PRIVATE, ModelPrivacy.PUBLIC, ModelPrivacy.EITHER

# One line per model.
MODELS: dict[str, ModelEntry] = {
    "popularity": ModelEntry(lambda e, o: Popularity(**o), PUBLIC, "distinct buyers per item"),
    "dp-popularity": ModelEntry(_dp_popularity, PRIVATE, "DP buyer counts (Laplace)"),
    "buy-again": ModelEntry(_buy_again, EITHER, "own past items, then (DP) popularity"),
    "itemknn": ModelEntry(lambda e, o: ItemKNN(**o), PUBLIC, "cosine item-kNN"),
    "als": ModelEntry(lambda e, o: ALS(**o), PUBLIC, "implicit ALS (Hu et al. 2008)"),
    "dp-als": ModelEntry(_dp_als, PRIVATE, "private ALS, user-side (after Chien et al. 2021)"),  # type: ignore[arg-type]
    "dp-mf": ModelEntry(_dp_mf, PRIVATE, "DP-SGD factorization (Opacus) + DP popularity"),  # type: ignore[arg-type]
    "dp-cobuy": ModelEntry(_dp_cobuy, EITHER, "DP co-purchase + public catalogue text"),
    "dp-eigen": ModelEntry(_dp_eigen, PRIVATE, "DP Gram matrix (Analyze Gauss), eigenspace"),  # type: ignore[arg-type]
}


def model_names() -> list[str]:
    """The model names, in registry order."""
    return list(MODELS)


def is_private(name: str, epsilon: float | None) -> bool:
    """True when model ``name`` at ``epsilon`` trains with DP (and charges the ledger)."""
    entry = MODELS.get(name)
    if entry is None or entry.privacy is PUBLIC:
        return False
    return entry.privacy is PRIVATE or (epsilon is not None and math.isfinite(epsilon))


def build_recommender(
    name: str, epsilon: float | None = None, options: Options | None = None
) -> Recommender:
    """The configuration of model ``name`` at ε per customer (``None`` or ∞: not private)."""
    entry = MODELS.get(name)
    if entry is None:
        raise ParameterError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if epsilon is not None:
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
            raise ParameterError(f"epsilon must be a number, got {type(epsilon).__name__}")
        if math.isnan(epsilon) or epsilon <= 0:
            raise ParameterError(f"epsilon must be > 0 (per customer), got {epsilon}; e.g. 1")
        if math.isinf(epsilon):
            epsilon = None
    if entry.privacy is PRIVATE and epsilon is None:
        raise ParameterError(
            f"{name} is private: give a finite --epsilon (per customer), e.g. --epsilon 1"
        )
    try:
        return entry.factory(None if entry.privacy is PUBLIC else epsilon, dict(options or {}))
    except TypeError as exc:
        raise ParameterError(f"bad option for {name}: {exc}") from None


# --- model files ----------------------------------------------------------------------


def _popularity(file: ModelFile) -> PopularityModel:
    budget = file.privacy.budget
    privacy = budget if isinstance(budget, ApproxDP) or budget is None else None
    return PopularityModel(file.arrays["counts"], file.kind, privacy)


def _buy_again_model(file: ModelFile) -> BuyAgainModel:
    fallback = _popularity(file)
    fallback = dataclasses.replace(fallback, name=str(file.config.get("fallback", "popularity")))
    return BuyAgainModel(fallback, file.config.get("history_half_life_days"))


def _itemknn_model(file: ModelFile) -> ItemKNNModel:
    a = file.arrays
    n = len(a["popularity"])
    similarity = sparse.csr_matrix((a["data"], a["indices"], a["indptr"]), shape=(n, n))
    return ItemKNNModel(similarity, a["popularity"])


def _als_model(file: ModelFile) -> ALSModel:
    c = file.config
    return ALSModel(
        file.arrays["item_factors"], file.arrays["popularity"], float(c["alpha"]),
        float(c["reg"]), int(c["solve_steps"]),
    )  # fmt: skip


def _dp_cobuy_model(file: ModelFile) -> FittedCoPurchase:
    budget = file.privacy.budget
    if budget is not None and not isinstance(budget, ApproxDP):
        raise ParameterError(f"a dp-cobuy model file must hold an (ε, δ) budget, got {budget}")
    names = {f.name for f in dataclasses.fields(DPCoPurchase)} - {"budget"}
    options: dict[str, Any] = {k: v for k, v in file.privacy.params.items() if k in names}
    return FittedCoPurchase.from_arrays(DPCoPurchase(budget, **options), file.arrays)


def _dp_als_model(file: ModelFile) -> FittedDPALS:
    a, c, budget = file.arrays, file.config, file.privacy.budget
    if not isinstance(budget, ApproxDP):
        raise ParameterError(f"a dp-als model file must hold an (ε, δ) budget, got {budget}")
    return FittedDPALS(
        a["counts"], a["kept"], a["factors"], float(c["reg"]), float(c["popularity_weight"]),
        budget,
    )  # fmt: skip


def _dp_mf_model(file: ModelFile) -> FittedDPMF:
    budget = file.privacy.budget
    if not isinstance(budget, ApproxDP):
        raise ParameterError(f"a dp-mf model file must hold an (ε, δ) budget, got {budget}")
    a = file.arrays
    return FittedDPMF(a["kept"], a["item_in"], a["item_out"], a["item_bias"], privacy=budget)


def _dp_eigen_model(file: ModelFile) -> FittedDPEigen:
    budget = file.privacy.budget
    if not isinstance(budget, ApproxDP):
        raise ParameterError(f"a dp-eigen model file must hold an (ε, δ) budget, got {budget}")
    names = {f.name for f in dataclasses.fields(DPEigen)} - {"budget"}
    options: dict[str, Any] = {k: v for k, v in file.privacy.params.items() if k in names}
    config = DPEigen(budget, **options)
    return FittedDPEigen.from_arrays(config, file.arrays, float(file.config["noise_edge"]))


# One line per saved kind (a fitted model's ``name``).
LOADERS: dict[str, Callable[[ModelFile], FittedRecommender]] = {
    "popularity": _popularity,
    "dp-popularity": _popularity,
    "buy-again": _buy_again_model,
    "itemknn": _itemknn_model,
    "als": _als_model,
    "dp-als": _dp_als_model,
    "dp-mf": _dp_mf_model,
    "dp-cobuy": _dp_cobuy_model,
    "dp-eigen": _dp_eigen_model,
}


def _scalars(value: object) -> dict[str, Any]:
    """A dataclass's scalar fields (its configuration), for the model file's JSON."""
    if not dataclasses.is_dataclass(value):
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if f.name != "privacy" and (isinstance(v, str | int | float | bool) or v is None):
            out[f.name] = v
    return out


def save_recommender(
    fitted: FittedRecommender,
    path: str | os.PathLike[str],
    *,
    train: Interactions,
    config: Recommender,
    dataset: str | None = None,
) -> Path:
    """Save ``fitted`` with its item vocabulary, its configuration and privacy metadata.

    The file holds only central state (counts, similarities, item factors) and the
    public catalogue's item ids and descriptions: no customer's history or factors.
    """
    arrays_of = getattr(fitted, "arrays", None)
    if fitted.name not in LOADERS or arrays_of is None:
        raise ParameterError(f"model {fitted.name!r} cannot be saved yet: it has no loader")
    window = train.window
    params = _scalars(config)
    fallback = getattr(config, "fallback", None)
    params |= {f"fallback_{k}": v for k, v in _scalars(fallback).items()}
    privacy = PrivacyMetadata(
        mechanism="none" if fitted.privacy is None else fitted.name,
        budget=fitted.privacy,
        unit=CUSTOMER.key,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        dataset=dataset,
        params=params,
    )
    settings = _scalars(fitted)
    inner = getattr(fitted, "fallback", None)
    if inner is not None:
        settings["fallback"] = inner.name
    arrays = dict(arrays_of())
    arrays["item_ids"] = np.asarray(train.item_ids, dtype=str)
    if train.item_text is not None:
        # The public catalogue's descriptions, so a list of recommendations can name items.
        arrays["item_texts"] = np.asarray(train.item_text, dtype=str)
    return save_model(path, kind=fitted.name, arrays=arrays, privacy=privacy, config=settings)


def load_recommender(path: str | os.PathLike[str]) -> tuple[FittedRecommender, ModelFile]:
    """A fitted model back from :func:`save_recommender`, with its file (metadata, ids)."""
    file = load_model(path)
    loader = LOADERS.get(file.kind)
    if loader is None:
        raise ParameterError(f"{path} holds a {file.kind!r} model, which this version cannot load")
    return loader(file), file
