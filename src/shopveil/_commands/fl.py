"""``shopveil fl simulate``: federated training of the churn model or the recommender on
Flower, in one process."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shopveil._commands._common import console, err_console, translate_errors
from shopveil._commands._fl_options import (
    AdaptiveClip,
    Compress,
    Db,
    DPDelta,
    DPEpsilon,
    Json,
    RequestId,
    SecureAggregation,
    federated_run,
)
from shopveil._commands._fl_options import choice as _choice
from shopveil._commands.learn import Law, People, Purpose
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa
    from rich.progress import Progress

    from shopveil.federated import (
        ChurnData,
        FederatedRun,
        LocalTraining,
        Partition,
        RecommenderData,
        RecommenderResult,
        RoundReport,
        SimulationResult,
    )

__all__ = ["register"]

_HELP = "Federated learning on Flower: train where the customers' data is."


def register(app: typer.Typer) -> None:
    fl_app = typer.Typer(help=_HELP, no_args_is_help=True)
    fl_app.command("simulate")(simulate)
    from shopveil._commands._fl_deploy import join, serve
    from shopveil._commands._fl_vertical import vertical

    fl_app.command("vertical")(vertical)
    fl_app.command("serve")(serve)
    fl_app.command("join")(join)
    app.add_typer(fl_app, name="fl")


@translate_errors
def simulate(
    data: Annotated[Path, typer.Option("--data", help="Online Retail CSV (plain or .gz).")],
    partition: Annotated[
        str, typer.Option("--partition", help="Clients: one per country, or one per customer.")
    ] = "country",
    model: Annotated[
        str, typer.Option("--model", help="The model to train: churn or recommender.")
    ] = "churn",
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 20,
    clients: Annotated[
        int | None,
        typer.Option(
            "--clients", min=1, help="At most this many clients (countries: the rest merge)."
        ),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="fedavg, fedprox (proximal term 0.1), or personalized (FedAvg, then each "
            "client fine-tunes on its own customers; per-country figures of both).",
        ),
    ] = "fedavg",
    dp_epsilon: DPEpsilon = None,
    dp_delta: DPDelta = 1e-6,
    adaptive_clip: AdaptiveClip = False,
    secure_aggregation: SecureAggregation = False,
    homomorphic_aggregation: Annotated[
        bool,
        typer.Option(
            "--homomorphic-aggregation",
            help="Encrypt updates (Paillier): the server adds ciphertexts, a key holder "
            "decrypts only the sum.",
        ),
    ] = False,
    compress: Compress = "none",
    hierarchy: Annotated[
        str,
        typer.Option(
            "--hierarchy",
            help="none, or country: devices (--partition customer) report to an edge per "
            "country (--clients caps the edges), the edges to the cloud.",
        ),
    ] = "none",
    db: Db = None,
    request_id: RequestId = None,
    split_at: Annotated[
        str,
        typer.Option(
            "--split-at", help="Recommender: train on purchases before this date, test after."
        ),
    ] = "2011-07-01",
    json_output: Json = False,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Train the churn model or the recommender federated, next to the centralized model.

    Each client (a country's store, or one customer's device) trains locally through a
    Flower ClientApp; only updates travel. With --dp-epsilon every customer is charged
    that ε once on the ledger (customer-level DP-FedAvg); --secure-aggregation masks
    updates pairwise; --homomorphic-aggregation encrypts them instead; --compress
    shrinks the uplink. The churn model prints auc (federated) and central_auc
    (non-private, same data, same run); the recommender (item factors, each customer's
    own factors kept on their client; trained on purchases before --split-at, tested
    after) prints recall@20 and ndcg@20 and their central_ values (ALS). Both print
    rounds and bytes_per_round. A private recommender uses the bundled Online Retail
    product catalogue as its public item list.
    Customers without a lawful basis for --purpose in the consent register (and, with
    --jurisdiction, the minors its law leaves out, by --people) take no part.
    """
    from shopveil._commands._evaluate_file import split_date
    from shopveil.data import load_online_retail
    from shopveil.federated import (
        RECOMMENDER_CLIP,
        RECOMMENDER_FINE_TUNING,
        RECOMMENDER_TRAINING,
        Partition,
    )

    _choice("--model", model, ("churn", "recommender"))
    how = Partition(_choice("--partition", partition, ("country", "customer")))
    _choice("--strategy", strategy, ("fedavg", "fedprox", "personalized"))
    if strategy == "personalized" and how is not Partition.COUNTRY:
        raise ParameterError(
            "--strategy personalized needs --partition country (each client fine-tunes on "
            "its own customers; one customer is too few)"
        )
    tiered = _choice("--hierarchy", hierarchy, ("none", "country")) == "country"
    if tiered and how is not Partition.CUSTOMER:
        raise ParameterError("--hierarchy country needs --partition customer (one device each)")
    if tiered and model != "churn":
        raise ParameterError("--hierarchy country trains the churn model; leave out --model")
    run = federated_run(rounds, "fedavg" if strategy == "personalized" else strategy,
                        dp_epsilon, dp_delta, adaptive_clip, secure_aggregation,
                        compress)  # fmt: skip
    run = replace(run, homomorphic=homomorphic_aggregation)
    if model == "recommender":
        dp = replace(run.dp, clip=RECOMMENDER_CLIP) if run.dp is not None else None
        run = replace(run, training=replace(RECOMMENDER_TRAINING, mu=run.training.mu), dp=dp)
    fine_tuning = RECOMMENDER_FINE_TUNING if model == "recommender" else run.training
    personalize = fine_tuning if strategy == "personalized" else None
    table = load_online_retail(data)
    task = _task(table, model, split_date(split_at), private=run.dp is not None)
    progress = _progress(rounds, disable=json_output)
    with progress:
        bar = progress.add_task("federated rounds", total=rounds)

        def on_round(report: RoundReport) -> None:
            progress.advance(bar)

        result = _run(task, run, how, clients, data, request_id, db, on_round,
                      (purpose, jurisdiction, people), personalize, tiered=tiered)  # fmt: skip
    out = result.as_dict() | {"partition": how.value, "strategy": strategy, "model": model}
    if json_output:
        print(json.dumps(out, allow_nan=False))
        return
    for key, value in out.items():
        console.print(f"{key}: {value}", highlight=False)


def _task(
    table: pa.Table, model: str, split: datetime, *, private: bool
) -> ChurnData | RecommenderData:
    """The churn task, or the recommender's (on the public catalogue when private)."""
    if model == "churn":
        from shopveil.federated import churn_data

        return churn_data(table)
    from shopveil.data import product_catalogue
    from shopveil.federated import recommender_data
    from shopveil.learn import Catalogue

    catalogue = Catalogue.from_table(product_catalogue()) if private else None
    return recommender_data(table, split=split, catalogue=catalogue)


def _progress(rounds: int, *, disable: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, transient=True,
        disable=disable or not err_console.is_terminal,
    )  # fmt: skip


def _run(
    task: ChurnData | RecommenderData, run: FederatedRun, how: Partition, clients: int | None,
    data: Path, request_id: str | None, db: str | None, on_round: Callable[[RoundReport], None],
    lawful: tuple[str, str | None, Path | None], personalize: LocalTraining | None, *,
    tiered: bool = False,
) -> SimulationResult | RecommenderResult:  # fmt: skip
    from shopveil._commands._fit import dataset_name
    from shopveil._core.units import PerCustomer
    from shopveil._workspace import open_workspace
    from shopveil.federated import ChurnData, simulate, simulate_hierarchy, simulate_recommender
    from shopveil.learn import CUSTOMER

    def run_simulation(**options: Any) -> SimulationResult | RecommenderResult:
        common = {"how": how, "clients": clients, "on_round": on_round} | options
        if not isinstance(task, ChurnData):
            return simulate_recommender(task, run, personalize=personalize, **common)
        if tiered:
            return simulate_hierarchy(task, run, **common)
        return simulate(task, run, personalize=personalize, **common)

    workspace = open_workspace(db)
    try:
        subjects = workspace.allowed_subjects(*lawful)
        if run.dp is None:
            return run_simulation(subjects=subjects)
        ledger = workspace.ledger
        entry = workspace.catalog.resolve(data, lambda unit: ledger.people(task.customers, unit))
        unit = entry.unit if entry is not None and isinstance(entry.unit, PerCustomer) else CUSTOMER
        return run_simulation(
            ledger=ledger, dataset=entry.name if entry is not None else dataset_name(data),
            request_id=request_id or f"fl-{secrets.token_hex(8)}", unit=unit, subjects=subjects,
        )  # fmt: skip
    finally:
        workspace.close()
