"""``shopveil fl simulate``: federated training of the churn model on Flower, in one process."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    Strategy,
    federated_run,
)
from shopveil._commands._fl_options import choice as _choice
from shopveil._commands.learn import Law, People, Purpose
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from rich.progress import Progress

    from shopveil.federated import (
        ChurnData,
        FederatedRun,
        Partition,
        RoundReport,
        SimulationResult,
    )

__all__ = ["register"]

_HELP = "Federated learning on Flower: train where the customers' data is."


def register(app: typer.Typer) -> None:
    fl_app = typer.Typer(help=_HELP, no_args_is_help=True)
    fl_app.command("simulate")(simulate)
    from shopveil._commands.fl_deploy import join, serve

    fl_app.command("serve")(serve)
    fl_app.command("join")(join)
    app.add_typer(fl_app, name="fl")


@translate_errors
def simulate(
    data: Annotated[Path, typer.Option("--data", help="Online Retail CSV (plain or .gz).")],
    partition: Annotated[
        str, typer.Option("--partition", help="Clients: one per country, or one per customer.")
    ] = "country",
    model: Annotated[str, typer.Option("--model", help="The model to train: churn.")] = "churn",
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 20,
    clients: Annotated[
        int | None,
        typer.Option(
            "--clients", min=1, help="At most this many clients (countries: the rest merge)."
        ),
    ] = None,
    strategy: Strategy = "fedavg",
    dp_epsilon: DPEpsilon = None,
    dp_delta: DPDelta = 1e-6,
    adaptive_clip: AdaptiveClip = False,
    secure_aggregation: SecureAggregation = False,
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
    json_output: Json = False,
    purpose: Purpose = "personalization",
    jurisdiction: Law = None,
    people: People = None,
) -> None:
    """Train the churn model federated, next to the centralized model, and print both AUCs.

    Each client (a country's store, or one customer's device) trains locally through a
    Flower ClientApp; only updates travel. With --dp-epsilon every customer is charged
    that ε once on the ledger (customer-level DP-FedAvg); --secure-aggregation masks
    updates pairwise; --compress shrinks the uplink. Prints auc (federated),
    central_auc (non-private, same data, same run), rounds and bytes_per_round.
    Customers without a lawful basis for --purpose in the consent register (and, with
    --jurisdiction, the minors its law leaves out, by --people) take no part.
    """
    from shopveil.data import load_online_retail
    from shopveil.federated import Partition, churn_data

    _choice("--model", model, ("churn",))
    how = Partition(_choice("--partition", partition, ("country", "customer")))
    tiered = _choice("--hierarchy", hierarchy, ("none", "country")) == "country"
    if tiered and how is not Partition.CUSTOMER:
        raise ParameterError("--hierarchy country needs --partition customer (one device each)")
    run = federated_run(rounds, strategy, dp_epsilon, dp_delta, adaptive_clip,
                        secure_aggregation, compress)  # fmt: skip
    table = load_online_retail(data)
    task = churn_data(table)
    progress = _progress(rounds, disable=json_output)
    with progress:
        bar = progress.add_task("federated rounds", total=rounds)

        def on_round(report: RoundReport) -> None:
            progress.advance(bar)

        result = _run(task, run, how, clients, data, request_id, db, on_round,
                      (purpose, jurisdiction, people), tiered=tiered)  # fmt: skip
    out = result.as_dict() | {"partition": how.value, "strategy": strategy, "model": model}
    if json_output:
        print(json.dumps(out, allow_nan=False))
        return
    for key, value in out.items():
        console.print(f"{key}: {value}", highlight=False)


def _progress(rounds: int, *, disable: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, transient=True,
        disable=disable or not err_console.is_terminal,
    )  # fmt: skip


def _run(
    task: ChurnData, run: FederatedRun, how: Partition, clients: int | None, data: Path,
    request_id: str | None, db: str | None, on_round: Callable[[RoundReport], None],
    lawful: tuple[str, str | None, Path | None], *, tiered: bool = False,
) -> SimulationResult:  # fmt: skip
    from shopveil._commands._fit import dataset_name
    from shopveil._core.units import PerCustomer
    from shopveil._workspace import open_workspace
    from shopveil.federated import simulate, simulate_hierarchy

    run_simulation = simulate_hierarchy if tiered else simulate
    from shopveil.learn import CUSTOMER

    workspace = open_workspace(db)
    try:
        subjects = workspace.allowed_subjects(*lawful)
        if run.dp is None:
            return run_simulation(
                task, run, how=how, clients=clients, on_round=on_round, subjects=subjects
            )
        ledger = workspace.ledger
        entry = workspace.catalog.resolve(data, lambda unit: ledger.people(task.customers, unit))
        unit = entry.unit if entry is not None and isinstance(entry.unit, PerCustomer) else CUSTOMER
        return run_simulation(
            task, run, how=how, clients=clients, ledger=ledger,
            dataset=entry.name if entry is not None else dataset_name(data),
            request_id=request_id or f"fl-{secrets.token_hex(8)}", unit=unit, on_round=on_round,
            subjects=subjects,
        )  # fmt: skip
    finally:
        workspace.close()
