"""``shopveil evaluate --model-file``: a trained model measured as it is, with DP metrics."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from shopveil._commands._common import console
from shopveil._commands._fit import fit_context, source_file
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    from shopveil._core.subjects import SubjectFilter
    from shopveil._workspace import Workspace
    from shopveil.learn import Catalogue, Interactions

__all__ = ["evaluate_model_file", "split_date"]


def split_date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--split-at {text!r}: write a date, e.g. 2011-07-01") from None


def evaluate_model_file(
    workspace: Workspace,
    model_file: Path,
    *,
    history_file: Path | None,
    test_file: Path | None,
    data: Path | None,
    split_at: str | None,
    epsilon: float | None,
    k: int,
    columns: dict[str, str | None],
    json_output: bool,
    subjects: SubjectFilter | None = None,
) -> None:
    """Load the model, charge the test customers, release and print DP metrics.

    ``subjects`` keeps out the customers who object to the purpose (not charged, not
    measured)."""
    from shopveil._core.budgets import PureDP
    from shopveil.learn import (
        EVALUATION_EPSILON,
        align,
        evaluate_private,
        load_recommender,
        model_catalogue,
        temporal_split,
    )

    if (test_file is None) == (data is None or split_at is None):
        raise ParameterError(
            "give --test FILE (with --train FILE for the customers' earlier purchases), or "
            "--data FILE --split-at DATE"
        )
    if not model_file.is_file():
        raise SourceError(f"--model-file {model_file}: no such model file")
    fitted, file = load_recommender(model_file)
    items = model_catalogue(file)
    if test_file is not None:
        source = source_file(workspace, test_file)
        test = _read(source, items, columns)
        earlier = (
            _read(source_file(workspace, history_file), items, columns) if history_file else None
        )
        nobody = np.zeros(test.n_users, dtype=bool)
        history, test = align(earlier if earlier is not None else test.of_users(nobody), test)
    else:
        assert data is not None and split_at is not None
        source = source_file(workspace, data)
        history, test = temporal_split(_read(source, items, columns), split_date(split_at))
    budget = PureDP(epsilon if epsilon is not None else EVALUATION_EPSILON)
    context = fit_context(workspace, True, source, test, None, subjects)
    result = evaluate_private(
        fitted, history, test, budget=budget, context=context, k=k,
        history_end=file.privacy.window_end,
    ).as_dict()  # fmt: skip
    if json_output:
        print(json.dumps(result, allow_nan=False))
        return
    _print(result, k)


def _read(path: Path, items: Catalogue, columns: dict[str, str | None]) -> Interactions:
    from shopveil.learn import load_history

    if not path.exists():
        raise SourceError(f"{path}: no such file or folder (nor a registered dataset)")
    return load_history(path, items, **columns)


def _print(result: dict[str, Any], k: int) -> None:
    cost = result["evaluation_cost"]
    eps = result["epsilon"]
    model = "not private" if eps is None else f"ε={eps:g}, δ={result['delta']:g} per customer"
    out = Table(
        title=f"{result['model']} @ {k} ({model}); metrics with DP noise, "
        f"ε={cost['epsilon']:g} charged to each test customer of {cost['dataset']}"
    )
    out.add_column("metric")
    out.add_column("all purchases", justify="right")
    out.add_column("new items", justify="right")
    for name in (f"recall@{k}", f"ndcg@{k}", f"map@{k}"):
        out.add_row(name, _cell(result, name), _cell(result, f"{name}_new"))
    out.add_row("users (noisy)", str(result["users"]), str(result["users_new"]))
    console.print(out)
    console.print(
        f"95% intervals cover the noise (scale {result['noise_scale']:.3g} on each sum and "
        "count); customers whose budget is spent were left out before anything was "
        "computed; coverage, diversity and novelty are not released",
        highlight=False,
        markup=False,
    )


def _cell(result: dict[str, Any], name: str) -> str:
    value = result[name]
    low, high = result["intervals"][name]
    return "–" if value is None else f"{value:.4f} [{low:.3f}, {high:.3f}]"
