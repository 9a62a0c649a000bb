"""``shopveil``: a thin command-line adapter over the library.

Each area's commands live in ``shopveil._commands.<area>`` and are registered here,
one line each. Commands hold no privacy logic; they translate options into library calls.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="shopveil",
    help="Personalize on customer data under a declared privacy policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per area. Each module defines ``register(app)``.
_COMMAND_MODULES = (
    "shopveil._commands.protect",
    "shopveil._commands.policy",
    "shopveil._commands.data",
    "shopveil._commands.dp",
    "shopveil._commands.budget",
    "shopveil._commands.anonymity",
    "shopveil._commands.keys",
    "shopveil._commands.link",
    "shopveil._commands.learn",
    "shopveil._commands.recommend",
    "shopveil._commands.audit",
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


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
