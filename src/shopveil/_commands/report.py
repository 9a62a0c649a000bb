"""``shopveil report``: the privacy-utility scorecard of a release or a model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, split_names, translate_errors, with_progress
from shopveil.errors import ParameterError, SourceError

if TYPE_CHECKING:
    from shopveil.audit import AuditLog
    from shopveil.scorecard import ModelScorecard, ReleaseScorecard

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("report")(report)


@translate_errors
def report(
    release: Annotated[
        Path | None, typer.Option("--release", help="A released table (CSV, Parquet, ...).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="A model file saved by `shopveil train`.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the HTML report here.")
    ] = None,
    qi: Annotated[
        str | None,
        typer.Option("--qi", help="The release's quasi-identifiers (default: its audit event's)."),
    ] = None,
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Sensitive attributes, for l and t.")
    ] = None,
    original: Annotated[
        Path | None,
        typer.Option("--original", help="The original table, in the release's row order."),
    ] = None,
    aux: Annotated[
        str | None,
        typer.Option("--aux", help="Columns an outsider knows, for the linkage attack."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Ledger dataset of the release.")
    ] = None,
    risk_ceiling: Annotated[
        float, typer.Option("--risk-ceiling", help="Highest re-identification risk accepted.")
    ] = 0.2,
    data: Annotated[
        Path | None, typer.Option("--data", help="Purchases to score the model on.")
    ] = None,
    epsilons: Annotated[
        str, typer.Option("--epsilons", help="ε values of the privacy-utility curve.")
    ] = "0.5,1,2,4,8",
    baseline: Annotated[
        str, typer.Option("--baseline", help="Non-private baseline: als or popularity.")
    ] = "als",
    shadows: Annotated[int, typer.Option("--shadows", help="Membership attack shadows.")] = 4,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the splits only.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score a release or a model: privacy next to utility, as HTML (-o) or JSON.

    A release: k, l, t, re-identification risks, the linkage attack (--original, --aux),
    information loss and the ε its dataset was charged. A model: its ε, the membership
    attack, Recall@k, NDCG, coverage and diversity against non-private ALS (or popularity,
    --baseline) fitted on the same split of --data (on the model's item vocabulary), and
    the curve over ε. Audit events are cited by number.
    """
    from shopveil.scorecard import (
        Baseline,
        model_scorecard,
        release_scorecard,
        render_scorecard,
    )

    if (release is None) == (model is None):
        raise ParameterError("give one of --release FILE or --model FILE")
    if output is None and not json_output:
        raise ParameterError("give -o report.html, --json, or both")
    if output is not None and output.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"-o {output}: the report is HTML; name it e.g. report.html")
    card: ReleaseScorecard | ModelScorecard
    if release is not None:
        if not release.exists():
            raise SourceError(f"--release {release}: no such file")
        manifest = release.with_name(release.name + ".release.json")
        with _audit(manifest.exists() or dataset is not None) as audit:
            card = release_scorecard(
                release,
                qi=split_names(qi),
                sensitive=split_names(sensitive),
                original=original,
                aux=split_names(aux),
                audit=audit,
                dataset=dataset,
                risk_ceiling=risk_ceiling,
            )
    else:
        assert model is not None
        from shopveil.learn import load_history, load_model, model_catalogue

        file = load_model(model)  # a file without privacy metadata is refused before any work
        if data is None:
            raise ParameterError("--model needs --data FILE: the purchases to score it on")
        if not data.exists():
            raise SourceError(f"--data {data}: no such file or folder")
        curve = _floats(epsilons)
        if baseline not in {b.value for b in Baseline}:
            raise ParameterError(f"--baseline {baseline!r}: choose als or popularity")
        # On the model's own public item vocabulary, as private models require.
        interactions = load_history(data, model_catalogue(file))
        with _audit(True) as audit:
            card = with_progress(
                lambda progress: model_scorecard(
                    model,
                    interactions,
                    epsilons=curve,
                    shadows=shadows,
                    seed=seed,
                    baseline=Baseline(baseline),
                    audit=audit,
                    progress=progress,
                ),
                "fitting the model, the baseline, the curve and the shadows",
                enabled=not json_output,
            )
    if output is not None:
        partial = output.with_name(output.name + ".part")
        partial.write_text(render_scorecard(card), encoding="utf-8")
        partial.replace(output)
    if json_output:
        print(json.dumps(card.as_dict()))
    else:
        console.print(card.verdict, highlight=False)
        console.print(f"report written to {output}", highlight=False)


def _floats(value: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in split_names(value))
    except ValueError:
        raise ParameterError(f"--epsilons {value!r}: expected numbers, e.g. 0.5,1,2,4,8") from None
    if not out or any(not 0 < v < float("inf") for v in out):
        raise ParameterError(f"--epsilons {value!r}: expected positive numbers, e.g. 0.5,1,2")
    return out


@contextmanager
def _audit(needed: bool) -> Iterator[AuditLog | None]:
    """The default store's audit log, opened only when the report cites it."""
    if not needed:
        yield None
        return
    from shopveil.audit import AuditLog
    from shopveil.keys import Keyring
    from shopveil.store import Store

    store = Store.open()
    try:
        yield AuditLog(store, Keyring.open(store))
    finally:
        store.close()
