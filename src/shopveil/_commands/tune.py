"""``shopveil tune``: search a technique's parameters over ``shopveil.tune``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shopveil._commands._common import console, split_names, translate_errors, with_progress
from shopveil._commands._fit import fit_context, source_file
from shopveil._commands.learn import CatalogueFile, Db, _load, _workspace
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    from shopveil.tune import RecommenderTuning, TableTuning

__all__ = ["register"]

tune_app = typer.Typer(
    help="Search a technique's parameters for the Pareto front and recommend a point.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(tune_app, name="tune")


JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _numbers(option: str, value: str, cast: type[Any] = float) -> tuple[Any, ...]:
    try:
        out = tuple(cast(v) for v in split_names(value))
    except ValueError:
        raise ParameterError(f"{option} {value!r}: expected numbers, e.g. 0,0.01") from None
    if not out:
        raise ParameterError(f"{option}: give at least one value")
    return out


@tune_app.command("table")
@translate_errors
def table(
    file: Annotated[Path, typer.Argument(help="The table (CSV, Parquet, ...).")],
    k: Annotated[int, typer.Option("--k", help="Every class holds at least k rows.")],
    qi: Annotated[
        str | None, typer.Option("--qi", help="Quasi-identifier columns, comma-separated.")
    ] = None,
    hierarchies: Annotated[
        Path | None,
        typer.Option("--hierarchies", help="Folder of ARX hierarchies for the lattice search."),
    ] = None,
    risk_ceiling: Annotated[
        float | None,
        typer.Option(
            "--risk-ceiling", help="Highest marketer risk (share of rows re-identified) accepted."
        ),
    ] = None,
    measure: Annotated[
        str, typer.Option("--measure", help="Loss to minimize: ncp or discernibility.")
    ] = "ncp",
    suppression: Annotated[
        str, typer.Option("--suppression", help="Lattice suppression limits to try.")
    ] = "0,0.01,0.02,0.05",
    k_factors: Annotated[
        str, typer.Option("--k-factors", help="Multiples of k tried too (for the front).")
    ] = "1,2,5",
    json_output: JsonOutput = False,
) -> None:
    """k-anonymity: the lattice search and Mondrian at several settings and k; the least
    loss that meets --k and --risk-ceiling. Reads the table; writes and charges nothing.
    """
    from shopveil.anonymity import load_hierarchies
    from shopveil.data import read_table
    from shopveil.tune import TableMeasure, TableSpace, TableTarget, tune_table

    names = split_names(qi)
    if not names:
        raise ParameterError("no quasi-identifiers declared: name them with --qi COL,COL,...")
    if measure not in {m.value for m in TableMeasure}:
        raise ParameterError(f"--measure {measure!r}: choose ncp or discernibility")
    target = TableTarget(k, risk_ceiling, TableMeasure(measure))
    space = TableSpace(
        suppression_limits=_numbers("--suppression", suppression),
        k_factors=_numbers("--k-factors", k_factors),
    )
    if not file.exists():
        raise SourceError(f"{file}: no such file")
    data = read_table(file)
    trees = None if hierarchies is None else load_hierarchies(hierarchies, names)
    tuning = with_progress(
        lambda progress: tune_table(
            data, names, target, hierarchies=trees, space=space, progress=progress
        ),
        "anonymizing at each setting",
        enabled=not json_output,
    )
    if json_output:
        print(json.dumps(tuning.to_dict()))
    else:
        _print_table(tuning)


def _print_table(tuning: TableTuning) -> None:
    out = Table(title=f"k = {tuning.target.k}: {len(tuning.candidates)} settings tried")
    for column in ("method", "setting", "k", "NCP", "risk", "suppressed", "front", ""):
        out.add_column(column)
    for c in tuning.candidates:
        settings = (
            str(c.settings["mode"])
            if c.method == "mondrian"
            else f"suppress ≤ {c.settings['suppression_limit']:.0%}"
        )
        if c.ncp is None:
            out.add_row(c.method, settings, str(c.k), "-", "-", "-", "", c.outcome)
            continue
        mark = "recommended" if c is tuning.recommended else ("default" if c.default else "")
        mark = "recommended (default)" if c is tuning.recommended and c.default else mark
        out.add_row(
            c.method, settings, str(c.k), f"{c.ncp:.4f}", f"{c.risk:.4f}",
            f"{c.suppressed_share:.1%}", "yes" if c.on_front else "", mark,
        )  # fmt: skip
    console.print(out)
    r = tuning.recommended
    console.print(
        f"recommended: {r.method} {dict(r.settings)} at k = {r.k}, NCP {r.ncp:.4f}", highlight=False
    )


@tune_app.command("recommender")
@translate_errors
def recommender(
    data: Annotated[Path, typer.Option("--data", help="Training purchases or MovieLens folder.")],
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (dp-als, dp-cobuy, als, ...).")
    ] = None,
    model_file: Annotated[
        Path | None,
        typer.Option("--model-file", help="Tune a saved model's kind at its ε (its metadata)."),
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Target ε per customer (private models).")
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="Option and values to try, e.g. --grid rank=2,4,8."),
    ] = None,
    auc_ceiling: Annotated[
        float | None,
        typer.Option(
            "--auc-ceiling", help="Highest membership AUC the chosen ε may allow (0.5 to 1)."
        ),
    ] = None,
    fractions: Annotated[
        str, typer.Option("--epsilon-fractions", help="Fractions of --epsilon tried (front).")
    ] = "1",
    repeats: Annotated[int, typer.Option("--repeats", help="Fits per point.")] = 1,
    finalists: Annotated[
        int, typer.Option("--finalists", help="Best points fitted again before choosing.")
    ] = 0,
    validation_share: Annotated[
        float,
        typer.Option("--validation-share", help="Each customer's last share that validates."),
    ] = 0.2,
    max_search_epsilon: Annotated[
        float | None,
        typer.Option("--max-search-epsilon", help="Refuse a search charging more ε per customer."),
    ] = None,
    measure: Annotated[
        str, typer.Option("--measure", help="recall or ndcg (at --top).")
    ] = "recall",
    top: Annotated[int, typer.Option("--top", help="k of Recall@k and NDCG@k.")] = 20,
    catalogue: CatalogueFile = None,
    db: Db = None,
    json_output: JsonOutput = False,
) -> None:
    """A recommender's size, ε split and regularization on a validation window carved from
    --data; every private fit is charged to the ledger, once.
    """
    from shopveil.learn import is_private, load_history, load_model, model_catalogue
    from shopveil.tune import (
        RecommenderMeasure,
        RecommenderSpace,
        RecommenderTarget,
        tune_recommender,
    )

    if (model is None) == (model_file is None):
        raise ParameterError("give one of --model NAME or --model-file FILE")
    file = None
    if model_file is not None:
        file = load_model(model_file)  # a file without privacy metadata is refused here
        if epsilon is not None or catalogue is not None:
            raise ParameterError("--epsilon and --catalogue come from --model-file's metadata")
        model = file.kind
        budget = file.privacy.budget
        epsilon = None if budget is None else float(getattr(budget, "epsilon", 0.0)) or None
    assert model is not None
    if measure not in {m.value for m in RecommenderMeasure}:
        raise ParameterError(f"--measure {measure!r}: choose recall or ndcg")
    target = RecommenderTarget(epsilon, RecommenderMeasure(measure), top, auc_ceiling)
    space = RecommenderSpace.of(
        _grid(grid),
        epsilon_fractions=_numbers("--epsilon-fractions", fractions),
        repeats=repeats,
        finalists=finalists,
        validation_share=validation_share,
        max_search_epsilon=max_search_epsilon,
    )
    with _workspace(db) as workspace:
        source = source_file(workspace, data)
        if file is not None:
            if not source.exists():
                raise SourceError(f"--data {data}: no such file or folder")
            interactions = load_history(source, model_catalogue(file))
        else:
            interactions = _load(source, None, None, None, catalogue)
        subjects = workspace.allowed_subjects("personalization", None)
        context = fit_context(
            workspace, is_private(model, epsilon), source, interactions, None, subjects
        )
        tuning = with_progress(
            lambda progress: tune_recommender(
                interactions, model, target, space=space, context=context, progress=progress
            ),
            f"fitting {model} at each point",
            enabled=not json_output,
        )
    if json_output:
        print(json.dumps(tuning.to_dict()))
    else:
        _print_recommender(tuning)


def _grid(values: list[str] | None) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for item in values or []:
        name, found, text = item.partition("=")
        if not found or not name.strip():
            raise ParameterError(f"--grid takes NAME=V1,V2, got {item!r}; e.g. --grid rank=2,4")
        parsed: list[Any] = []
        for value in split_names(text):
            for cast in (int, float, str):
                try:
                    parsed.append(cast(value))
                    break
                except ValueError:
                    continue
        if not parsed:
            raise ParameterError(f"--grid {item!r}: give at least one value")
        out[name.strip()] = tuple(parsed)
    return out


def _print_recommender(tuning: RecommenderTuning) -> None:
    measure = f"{tuning.target.measure.value}@{tuning.target.k}"
    out = Table(title=f"{tuning.model}: {len(tuning.candidates)} points, {tuning.fits} fits")
    for column in ("options", "ε", f"validation {measure}", "fits", "front", ""):
        out.add_column(column)
    ranked = sorted(tuning.candidates, key=lambda c: -c.value)
    for c in ranked:
        mark = "recommended" if c is tuning.recommended else ("default" if c.default else "")
        options = ", ".join(f"{k}={v}" for k, v in c.options.items()) or "(defaults)"
        eps = "∞" if c.epsilon is None else f"{c.epsilon:g}"
        front = "yes" if c.on_front else ""
        out.add_row(options, eps, f"{c.value:.4f}", str(len(c.scores)), front, mark)
    console.print(out)
    gain = tuning.recommended.value - tuning.default.value
    console.print(
        f"recommended {dict(tuning.recommended.options)}: {measure} "
        f"{tuning.recommended.value:.4f} ({gain:+.4f} over the defaults); "
        f"the search charged ε = {tuning.epsilon_charged:g} per customer in {tuning.fits} fits",
        highlight=False,
    )
