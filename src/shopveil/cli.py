"""``shopveil``: a thin command-line adapter over the library.

Each area's commands live in ``shopveil._commands.<area>``, which defines
``register(app)``; :data:`_COMMANDS` lists them here, one line each, with the help line
``shopveil --help`` shows. A command's module is imported only when that command runs
or shows its own help, so ``shopveil --help`` and every command start without the
others' imports. Commands hold no privacy logic; they translate options into library calls.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # Annotations only: recent Typer releases carry their own copy of Click.
    import click

__all__ = ["app", "main"]

# Top-level command -> (its module in shopveil._commands, the help line --help lists),
# in the order --help lists them: commands first, then groups of commands. The line
# repeats the first paragraph of the command's own help; a test checks that they agree.
_COMMANDS: dict[str, tuple[str, str]] = {
    "scan": (
        "protect",
        "Classify each column as identifier, quasi-identifier, sensitive or other; draft a policy.",
    ),
    "anonymize": (
        "protect",
        "Protect a table by policy (--policy), and make it k-anonymous with --k.",
    ),
    "demo": (
        "protect",
        "Scan, protect under GDPR and summarize the bundled retail data, end to end.",
    ),
    "query": (
        "dp",
        "Answer an aggregate SQL query with differential privacy, charged to the ledger.",
    ),
    "synth": (
        "synth",
        "Draw a DP synthetic copy of a table (MST or AIM), charged once to the privacy ledger.",
    ),
    "assess": (
        "anonymity",
        "Print k, l, t and the re-identification risks, then a verdict against the gates.",
    ),
    "report": (
        "report",
        "Score a release or a model: privacy next to utility, as HTML (-o) or JSON.",
    ),
    "erase": (
        "keys",
        "Crypto-shred a subject: delete their key so their vault values are unrecoverable.",
    ),
    "detokenize": (
        "keys",
        "Print the values behind vault tokens, one per line; allowed purposes only, audited.",
    ),
    "redact-text": (
        "text",
        "Find and replace PII in the text of a CSV, Parquet or JSONL file.",
    ),
    "link": (
        "link",
        "Match records of two files through keyed Bloom-filter encodings (CLKs).",
    ),
    "redact-image": (
        "vision",
        "Redact the faces in images and strip their metadata (EXIF, GPS), into a folder.",
    ),
    "redact-video": (
        "vision",
        "Redact the faces in every frame of a video, tracked between detections.",
    ),
    "train": (
        "learn",
        "Train a recommender on purchases and save it with its privacy metadata.",
    ),
    "evaluate": (
        "learn",
        "Measure a recommender: fit --model on the training window, or load --model-file.",
    ),
    "recommend": (
        "recommend",
        "A customer's top-k items from a trained model and their own purchases; no budget spent.",
    ),
    "serve": (
        "service",
        "Run the HTTP service: the policy, the vault, DP queries, consent and subject rights.",
    ),
    "policy": ("policy", "Read what a policy does."),
    "data": ("data", "Register datasets: their privacy unit, budget per person and people."),
    "budget": ("budget", "Show, set or reset privacy budgets."),
    "keys": ("keys", "Manage keys: rotation."),
    "audit": ("audit", "Show or verify the audit log."),
    "consent": (
        "consent",
        "The consent register: each customer's grants, refusals and withdrawals per purpose.",
    ),
    "retention": (
        "retention",
        "Retention: delete what ShopVeil's store keeps past the policy's periods.",
    ),
    "access": ("service", "API keys for the service: each names a role of the policy."),
    "attack": (
        "attack",
        "Attack ShopVeil's own releases, models and mechanisms: membership, linkage, audits.",
    ),
    "tune": (
        "tune",
        "Search a technique's parameters for the Pareto front and recommend a point.",
    ),
    "fl": ("fl", "Federated learning on Flower: train where the customers' data is."),
}


@functools.cache
def _registered(module: str) -> dict[str, click.Command]:
    """The commands ``shopveil._commands.<module>`` registers, as Click commands."""
    area = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    importlib.import_module(f"shopveil._commands.{module}").register(area)
    return dict(typer.main.get_group(area).commands)


class _LazyGroup(TyperGroup):
    """The root group: it lists :data:`_COMMANDS` without importing their modules.

    ``shopveil --help`` reads names and help lines from the table. Running a command, or
    asking it for its own help, imports that command's module alone. Code that walks
    ``commands`` (documentation tools, tests) gets every real command.
    """

    _listing = False

    @property
    def commands(self) -> dict[str, click.Command]:
        return {name: _registered(module)[name] for name, (module, _) in _COMMANDS.items()}

    @commands.setter
    def commands(self, value: Mapping[str, click.Command]) -> None:
        # Typer hands over the commands registered on ``app`` itself: there are none.
        if value:
            raise TypeError("register commands in shopveil.cli._COMMANDS, not on app")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, help_line = _COMMANDS[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=help_line)
        return _registered(module)[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing needs each command's name and help line only: the table has them.
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="shopveil",
    cls=_LazyGroup,
    help="Personalize on customer data under a declared privacy policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from shopveil import __version__

        print(f"shopveil {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Personalize on customer data under a declared privacy policy."""


def main() -> None:
    """Run the command line (the ``shopveil`` script)."""
    app()


if __name__ == "__main__":
    main()
