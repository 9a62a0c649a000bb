"""Every option's help prints in full: bracketed defaults are text, never Rich markup."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import click
import pytest

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer.main
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


def _bracketed() -> list[tuple[tuple[str, ...], str]]:
    found = []
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            text = getattr(param, "help", None) or ""
            for part in re.findall(r"\\?\[[^\]]*\]", text):
                found.append((path, part.removeprefix("\\")))
    return found


def test_help_texts_hold_bracketed_defaults() -> None:
    assert any(part.startswith("[default: 1e-6") for _, part in _bracketed())


@pytest.mark.parametrize(("path", "part"), _bracketed())
def test_a_bracketed_part_of_an_option_help_is_printed(path: tuple[str, ...], part: str) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.replace("│", " ").split())
    assert " ".join(part.split()) in shown
