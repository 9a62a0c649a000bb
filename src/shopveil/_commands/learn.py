"""``shopveil train`` and ``shopveil evaluate``: thin adapters over ``shopveil.learn``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shopveil._commands._common import console, err_console, translate_errors
from shopveil._commands._fit import fit_context, source_file
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    from shopveil._workspace import Workspace
    from shopveil.learn import Interactions

__all__ = ["register"]

_MODEL_HELP = "popularity, dp-popularity, buy-again, itemknn, als, dp-als, dp-mf, ..."


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)


Column = Annotated[str | None, typer.Option(help="Column name, if not detected.")]
Db = Annotated[
    str | None, typer.Option("--db", help="Store URL for the budget ledger \\[default: local].")
]
CatalogueFile = Annotated[
    Path | None,
    typer.Option(
        "--catalogue",
        help="Public product list (CSV/Parquet: item id, description); private models need it.",
    ),
]
Purpose = Annotated[
    str,
    typer.Option(
        "--purpose",
        help="Why: customers without a lawful basis for it in the consent register (under "
        "--jurisdiction's law) are left out before anything is computed.",
    ),
]
Law = Annotated[
    str | None,
    typer.Option(
        "--jurisdiction",
        help="gdpr, ccpa, lgpd or pipl: the law whose table decides whether the purpose "
        r"needs consent \[default: none named; see docs/consent.md].",
    ),
]
People = Annotated[
    Path | None,
    typer.Option(
        "--people",
        help="The customers' table (id and birth date or age): with --jurisdiction, the "
        "minors its law leaves out of the purpose are left out of the fit.",
    ),
]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param", help="Model option NAME=VALUE (VALUE none for None), e.g. --param factors=32."
    ),
]


def _options(values: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values or []:
        name, found, text = item.partition("=")
        if not found or not name.strip():
            raise ParameterError(f"--param takes NAME=VALUE, got {item!r}; e.g. --param factors=32")
        value: Any = text.strip()
        if value.lower() == "none":
            out[name.strip()] = None
            continue
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        out[name.strip()] = value
    return out


def _load(
    path: Path, user: str | None, item: str | None, time: str | None, catalogue: Path | None
) -> Interactions:
    from shopveil.learn import load_catalogue, load_interactions

    if not path.exists():
        raise SourceError(f"{path}: no such file or folder (nor a registered dataset)")
    items = None if catalogue is None else load_catalogue(catalogue)
    return load_interactions(path, user=user, item=item, time=time, catalogue=items)


@contextmanager
def _workspace(db: str | None) -> Iterator[Workspace]:
    from shopveil._workspace import open_workspace

    workspace = open_workspace(db)
    try:
        yield workspace
    finally:
        workspace.close()


@translate_errors
def train(
    data: Annotated[Path, typer.Option("--data", help="Purchases file or MovieLens folder.")],
    model: Annotated[str, typer.Option("--model", help=_MODEL_HELP)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.npz).")],
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="ε per customer (private models).")
    ] = None,
    user: Column = None,
    item: Column = None,
    time: Column = None,
    param: Params = None,
    catalogue: CatalogueFile = None,
    db: Db = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="Retry-safe id: charged once.")
    ] = None,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Train a recommender on purchases and save it with its privacy metadata.

    Customers who objected to the purpose (or, where the law asks consent, did not grant
    it) are left out of the training data: `shopveil consent import` records them. With
    --jurisdiction, so are the minors its law leaves out of the purpose, by the ages in
    --people (GDPR, LGPD and PIPL refuse a fit without them).
    """
    from shopveil.learn import (
        MODELS,
        ModelPrivacy,
        build_recommender,
        is_private,
        save_recommender,
    )

    config = build_recommender(model, epsilon, _options(param))
    if epsilon is not None and MODELS[model].privacy is ModelPrivacy.PUBLIC:
        err_console.print(f"note: {model} is not private; --epsilon is ignored", highlight=False)
    if not output.parent.is_dir():
        raise ParameterError(f"-o {output}: the folder {output.parent} does not exist")
    from shopveil.governance import require_central_fit

    require_central_fit(jurisdiction)
    with _workspace(db) as workspace:
        subjects = workspace.allowed_subjects(purpose, jurisdiction, people)
        source = source_file(workspace, data)
        interactions = _load(source, user, item, time, catalogue)
        context = fit_context(
            workspace, is_private(model, epsilon), source, interactions, request_id, subjects
        )
        interactions = context.consented(interactions)
        fitted = config.fit(interactions, context)
    path = save_recommender(
        fitted, output, train=interactions, config=config, dataset=context.dataset
    )
    out = Table(title=f"trained {fitted.name}")
    out.add_column("field")
    out.add_column("value")
    window = interactions.window
    out.add_row("privacy", str(fitted.privacy) if fitted.privacy else "not private")
    out.add_row("customers / items", f"{len(interactions.active_users())} / {interactions.n_items}")
    out.add_row("events", str(len(interactions)))
    if window:
        out.add_row("window", f"{window[0]:%Y-%m-%d} … {window[1]:%Y-%m-%d}")
    out.add_row("model file", str(path))
    console.print(out)


@translate_errors
def evaluate(
    model: Annotated[
        str | None, typer.Option("--model", help=f"Fit this model now: {_MODEL_HELP}")
    ] = None,
    model_file: Annotated[
        Path | None,
        typer.Option(
            "--model-file",
            help="Measure a model written by `shopveil train`, never retrained. The metrics "
            "are computed on the test customers' purchases, so they are released with DP "
            "noise (Laplace on per-customer Recall, NDCG and MAP sums and counts) and "
            "--epsilon is charged to every test customer, on the same ledger.",
        ),
    ] = None,
    train_file: Annotated[
        Path | None,
        typer.Option(
            "--train", help="Training purchases (with --model-file: the customers' history)."
        ),
    ] = None,
    test_file: Annotated[Path | None, typer.Option("--test", help="Test purchases.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="One purchases file, cut with --split-at.")
    ] = None,
    split_at: Annotated[
        str | None, typer.Option("--split-at", help="Train before this date, test from it.")
    ] = None,
    epsilon: Annotated[
        float | None,
        typer.Option(
            "--epsilon",
            help="ε per customer: of the model fitted with --model (private models), or of "
            "the metrics released with --model-file \\[default there: 0.5].",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="List length.")] = 20,
    user: Column = None,
    item: Column = None,
    time: Column = None,
    param: Params = None,
    catalogue: CatalogueFile = None,
    db: Db = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Measure a recommender: fit --model on the training window, or load --model-file."""
    from shopveil.learn import align, build_recommender, is_private, temporal_split
    from shopveil.learn import evaluate as run_evaluation

    if k < 1:
        raise ParameterError(f"--k must be >= 1, got {k}")
    if (model is None) == (model_file is None):
        raise ParameterError("give --model NAME (fitted now) or --model-file FILE (trained)")
    if model_file is not None:
        from shopveil._commands._evaluate_file import evaluate_model_file

        if param or catalogue is not None:
            raise ParameterError(
                "--param and --catalogue go with --model NAME; a model file brings its own "
                "configuration and items"
            )
        with _workspace(db) as workspace:
            evaluate_model_file(
                workspace, model_file, history_file=train_file, test_file=test_file, data=data,
                split_at=split_at, epsilon=epsilon, k=k,
                columns={"user": user, "item": item, "time": time}, json_output=json_output,
                subjects=workspace.allowed_subjects(purpose, jurisdiction, people),
            )  # fmt: skip
        return
    assert model is not None
    config = build_recommender(model, epsilon, _options(param))
    one_file = data is not None and split_at is not None
    if not one_file and (train_file is None or test_file is None):
        raise ParameterError("give --train FILE --test FILE, or --data FILE --split-at DATE")
    if one_file and (train_file is not None or test_file is not None):
        raise ParameterError("give --train FILE --test FILE, or --data FILE --split-at DATE")
    from shopveil.governance import require_central_fit

    require_central_fit(jurisdiction)
    with _workspace(db) as workspace:
        subjects = workspace.allowed_subjects(purpose, jurisdiction, people)
        if data is not None and split_at is not None:
            from shopveil._commands._evaluate_file import split_date

            source = source_file(workspace, data)
            train_data, test_data = temporal_split(
                _load(source, user, item, time, catalogue), split_date(split_at)
            )
        else:
            assert train_file is not None and test_file is not None
            source = source_file(workspace, train_file)
            train_data, test_data = align(
                _load(source, user, item, time, catalogue),
                _load(source_file(workspace, test_file), user, item, time, catalogue),
            )
        context = fit_context(
            workspace, is_private(model, epsilon), source, train_data, None, subjects
        )
        train_data, test_data = context.consented(train_data), context.consented(test_data)
        fitted = config.fit(train_data, context)
        result = run_evaluation(fitted, train_data, test_data, k=k).as_dict()
    if result["cold_users"]:
        err_console.print(
            f"note: {result['cold_users']} of {result['users']} customers have no training "
            "history; they get the popularity ranking",
            highlight=False,
            soft_wrap=True,
        )
    if result["unseen_items"]:
        err_console.print(
            f"note: {result['unseen_items']} test items were never bought in training; "
            "they count as misses",
            highlight=False,
            soft_wrap=True,
        )
    if json_output:
        print(json.dumps(result, allow_nan=False))
        return
    _print_table(result, k)


def _print_table(result: dict[str, Any], k: int) -> None:
    eps = result["epsilon"]
    privacy = "not private" if eps is None else f"ε={eps:g}, δ={result['delta']:g} per customer"
    out = Table(title=f"{result['model']} @ {k} ({privacy})")
    out.add_column("metric")
    out.add_column("all purchases", justify="right")
    out.add_column("new items", justify="right")
    for name in (f"recall@{k}", f"ndcg@{k}", f"map@{k}", "coverage", "diversity", "novelty"):
        new_key = f"{name}_new"
        out.add_row(name, _fmt(result[name]), _fmt(result[new_key]))
    out.add_row("users", str(result["users"]), str(result["users_new"]))
    console.print(out)


def _fmt(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4f}"
