"""``shopveil attack``: membership, linkage and DP audits over ``shopveil.attacks``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shopveil._commands._common import console, translate_errors, with_progress
from shopveil._commands.learn import Params, _options
from shopveil.errors import ParameterError, SourceError

__all__ = ["register"]

attack_app = typer.Typer(
    help="Attack ShopVeil's own releases, models and mechanisms: membership, linkage, audits.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(attack_app, name="attack")


JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@attack_app.command("membership")
@translate_errors
def membership(
    data: Annotated[Path, typer.Option("--data", help="Purchases file or MovieLens folder.")],
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (als, dp-als, dp-cobuy, ...).")
    ] = None,
    model_file: Annotated[
        Path | None,
        typer.Option(
            "--model-file",
            help="Attack the configuration of a model saved by `shopveil train` "
            "(its kind, ε and options from its privacy metadata).",
        ),
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="ε per customer (private models).")
    ] = None,
    param: Params = None,
    shadows: Annotated[int, typer.Option("--shadows", help="Shadow models.")] = 16,
    targets: Annotated[
        int, typer.Option("--targets", help="Models that serve in turn as the target.")
    ] = 1,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the customer splits only.")
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """Was a customer's history in training? LiRA and threshold attacks on a recommender.

    Splits the customers at random, trains the target and the shadow models on halves of
    them (on a scratch ledger; nothing is saved or released), and prints the AUC and the
    TPR at 0.1% and 1% FPR of the offline LiRA attack, then of every attack.
    """
    from shopveil.attacks import MembershipConfig, config_from_model_file, membership_attack
    from shopveil.learn import load_interactions

    if (model is None) == (model_file is None):
        raise ParameterError("give one of --model NAME or --model-file FILE")
    if not data.exists():
        raise SourceError(f"--data {data}: no such file or folder")
    settings: dict[str, Any] = {"shadows": shadows, "targets": targets, "seed": seed}
    if model_file is not None:
        config = config_from_model_file(model_file, **settings)
    else:
        assert model is not None
        config = MembershipConfig(model, epsilon, _options(param), **settings)
    interactions = load_interactions(data)
    result = with_progress(
        lambda progress: membership_attack(interactions, config, progress=progress),
        "training target and shadows",
        enabled=not json_output,
    )
    if json_output:
        print(json.dumps(result.as_dict()))
        return
    out = Table(title=f"membership inference on {config.model} (ε = {config.epsilon or '∞'})")
    for name in ("attack", "AUC", "TPR @ 0.1% FPR", "TPR @ 1% FPR"):
        out.add_column(name)
    for name, scores in result.attacks.items():
        out.add_row(
            name,
            f"{scores.auc:.3f}",
            f"{scores.tpr_at_01pct_fpr:.3%}",
            f"{scores.tpr_at_1pct_fpr:.3%}",
        )
    console.print(out)
    console.print(f"{result.members} members, {result.nonmembers} non-members", highlight=False)


@attack_app.command("audit")
@translate_errors
def audit(
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="laplace, geometric, gaussian, query, dp-popularity, dp-als, dp-cobuy or dp-sgd.",
        ),
    ],
    epsilon: Annotated[
        float,
        typer.Option("--epsilon", help="The claimed ε (gaussian, dp-als, dp-cobuy: μ, ρ = ε²/2)."),
    ] = 1.0,
    trials: Annotated[int, typer.Option("--trials", help="Draws on each input.")] = 20_000,
    broken: Annotated[
        bool, typer.Option("--broken", help="Halve the noise, keep the claim (must be caught).")
    ] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="1 − confidence of the bound.")] = 0.05,
    json_output: JsonOutput = False,
) -> None:
    """Lower-bound a mechanism's ε empirically (neighbouring inputs, Clopper-Pearson).

    Exits 1 when the lower bound exceeds the claim: the mechanism leaks more than it says.
    """
    from shopveil.attacks import AuditConfig, run_audit

    result = run_audit(AuditConfig(target, epsilon, trials, broken, alpha))  # type: ignore[arg-type]
    if json_output:
        print(json.dumps(result.as_dict()))
    else:
        verdict = "within the claim" if result.passed else "ABOVE the claim: caught"
        console.print(
            f"{result.mechanism}: empirical {result.measure} >= {result.lower_bound:.3f} "
            f"({1 - result.alpha:.0%} confidence, {result.trials} draws per input); "
            f"claimed {result.claimed:.3f}: {verdict}",
            highlight=False,
        )
    if not result.passed:
        raise typer.Exit(1)


@attack_app.command("linkage")
@translate_errors
def linkage(
    release: Annotated[Path, typer.Option("--release", help="The released table.")],
    original: Annotated[
        Path, typer.Option("--original", help="The original table, in the release's row order.")
    ],
    aux: Annotated[
        str,
        typer.Option("--aux", help="Quasi-identifiers the outsider knows: InvoiceDate,StockCode."),
    ],
    customer: Annotated[
        str | None, typer.Option("--customer", help="Customer column, if not detected.")
    ] = None,
    known: Annotated[int, typer.Option("--known", help="Purchases known per customer.")] = 3,
    targets: Annotated[int, typer.Option("--targets", help="Customers attacked (sample).")] = 1000,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the sample.")] = None,
    json_output: JsonOutput = False,
) -> None:
    """Re-identify customers in a release from a few of their purchases (aux columns).

    Prints the fraction of attacked customers whose own record is the only one in the
    release consistent with the purchases the outsider knows.
    """
    from shopveil._commands._common import split_names
    from shopveil.attacks import LinkageConfig, linkage_attack_files

    config = LinkageConfig(tuple(split_names(aux)), customer, known, targets, seed)
    result = with_progress(
        lambda progress: linkage_attack_files(release, original, config, progress=progress),
        "attacking customers",
        enabled=not json_output,
    )
    if json_output:
        print(json.dumps(result.as_dict()))
        return
    console.print(
        f"{result.reidentified:.1%} of {result.targets} customers re-identified from "
        f"{config.known} known purchases ({', '.join(config.aux)}); "
        f"{result.mean_candidates:.1f} consistent records on average",
        highlight=False,
    )
