"""What every command shares: one error-to-exit-code translation, one console."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from shopveil.errors import InputError, MissingExtraError, ShopVeilError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "RowProgress",
    "console",
    "err_console",
    "row_progress",
    "split_names",
    "translate_errors",
    "with_progress",
]

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def translate_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn ShopVeil errors into one line on stderr: exit 2 for bad input or a missing
    extra (the line names the pip command), 1 otherwise.

    Warnings raised while the command runs (a model that fell back to popularity, a key
    file in the wrong place) are printed as ``note:`` lines on stderr once it succeeds,
    never as Python warnings with a source path; a failed command prints its error alone.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = command(*args, **kwargs)
        except (InputError, MissingExtraError) as exc:
            _fail(exc, EXIT_BAD_INPUT)
        except ShopVeilError as exc:
            _fail(exc, EXIT_FAILURE)
        except KeyboardInterrupt:
            _fail(KeyboardInterrupt("interrupted; nothing was written"), EXIT_FAILURE)
        _print_notes(caught)
        return result

    return wrapper


# Warnings meant for the developers of a library, not for whoever runs a command.
_DEVELOPER_WARNINGS = (
    DeprecationWarning,
    PendingDeprecationWarning,
    ImportWarning,
    ResourceWarning,
)


def _print_notes(caught: list[warnings.WarningMessage]) -> None:
    shown: set[str] = set()
    for warning in caught:
        text = str(warning.message)
        if issubclass(warning.category, _DEVELOPER_WARNINGS) or text in shown:
            continue
        shown.add(text)
        err_console.print(f"note: {text}", highlight=False, markup=False, soft_wrap=True)


def split_names(value: str | None) -> list[str]:
    """``"a, b,c"`` → ``["a", "b", "c"]``; ``None`` → ``[]``."""
    if not value:
        return []
    return [name.strip() for name in value.split(",") if name.strip()]


def _fail(exc: BaseException, code: int) -> NoReturn:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


@dataclass(frozen=True)
class RowProgress:
    """Callbacks a long-running library call reports its progress through."""

    start: Callable[[int], None]
    advance: Callable[[int], None]


@contextmanager
def row_progress(description: str) -> Iterator[RowProgress]:
    """A Rich progress bar on stderr counting rows; silent when stderr is not a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    task = progress.add_task(description, total=None)
    with progress:
        yield RowProgress(
            start=lambda total: progress.update(task, total=total),
            advance=lambda rows: progress.advance(task, rows),
        )


def with_progress(
    run: Callable[[Callable[[int, int], None]], R], description: str, *, enabled: bool
) -> R:
    """Run ``run(progress)`` under a Rich bar on stderr; ``progress(done, total)`` moves it.

    The bar shows only when ``enabled`` (not ``--json``) and stderr is a terminal.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, transient=True,
        disable=not (enabled and err_console.is_terminal),
    )  # fmt: skip
    task = progress.add_task(description, total=None)
    with progress:
        return run(lambda done, total: progress.update(task, completed=done, total=total))
