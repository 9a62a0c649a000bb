"""Start-up stays cheap: what ``import shopveil`` and ``shopveil --help`` load.

Times are measured by ``benchmarks/bench_startup.py``, not here (a loaded machine makes
timed tests flaky); these tests check the modules each start loads, in a fresh
interpreter. pyarrow alone takes about 0.1 s to import, numpy and SQLAlchemy about as
much: none of them may load before a command needs them.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest

import shopveil

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer
    from typer.main import get_group
    from typer.testing import CliRunner

    from shopveil import cli

SRC = Path(shopveil.__file__).resolve().parents[1]
HEAVY = (
    "pyarrow", "polars", "pandas", "numpy", "sqlalchemy", "duckdb", "faker", "torch",
    "scipy", "sklearn", "opacus", "opendp", "cryptography", "yaml", "jsonschema",
)  # fmt: skip
CLI_ONLY = ("typer", "click", "rich")
LOADED = (
    "import json, sys\n"
    "print(json.dumps(sorted({{m.partition('.')[0] for m in sys.modules}} & set({names!r}))))"
)


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    """The packages among ``names`` that a fresh interpreter holds after running ``code``."""
    script = f"{code}\n{LOADED.format(names=names)}"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=120, check=False,
        env=os.environ | {"PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_import_shopveil_loads_no_heavy_package() -> None:
    assert _loaded_after("import shopveil", HEAVY + CLI_ONLY) == []


def test_subpackages_load_only_what_they_need() -> None:
    # A scan drafts a policy: that needs neither the store (SQLAlchemy) nor polars.
    assert _loaded_after("import shopveil.policy, shopveil.data", HEAVY) == []
    code = "from shopveil.policy import load_policy; load_policy('gdpr')"
    assert {"sqlalchemy", "polars", "faker"}.isdisjoint(_loaded_after(code, HEAVY))


def test_help_loads_no_heavy_package_and_no_command_module() -> None:
    code = (
        "import sys\n"
        "from shopveil.cli import main\n"
        "sys.argv = ['shopveil', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "commands = [m for m in sys.modules if m.startswith('shopveil._commands.')]\n"
        "assert commands == [], commands\n"
    )
    assert _loaded_after(code, HEAVY) == []


def test_every_commands_help_loads_no_heavy_package() -> None:
    names = [
        [name, *sub]
        for name, command in _eager_commands().items()
        for sub in ([[]] + [[s] for s in getattr(command, "commands", {})])
    ]
    code = (
        "import warnings\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "from typer.testing import CliRunner\n"
        "from shopveil.cli import app\n"
        f"for args in {names!r}:\n"
        "    result = CliRunner().invoke(app, [*args, '--help'])\n"
        "    assert result.exit_code == 0 and 'Usage:' in result.output, (args, result.output)\n"
    )
    assert _loaded_after(code, HEAVY) == []


def _eager_commands() -> dict[str, click.Command]:
    """Every command as the modules register them, imported eagerly, in module order."""
    app = typer.Typer(add_completion=False)
    for module in dict.fromkeys(module for module, _ in cli._COMMANDS.values()):
        __import__(f"shopveil._commands.{module}", fromlist=["register"]).register(app)
    return dict(get_group(app).commands)


def test_the_command_table_lists_what_the_modules_register() -> None:
    eager = _eager_commands()
    assert set(eager) == set(cli._COMMANDS)
    # As Typer lists them: commands, then groups of commands.
    groups = [isinstance(eager[name], click.Group) for name in cli._COMMANDS]
    assert groups == sorted(groups)
    for name, command in eager.items():
        first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert cli._COMMANDS[name][1] == first_paragraph.replace("\n", " "), name
    modules = {p.stem for p in (SRC / "shopveil" / "_commands").glob("[!_]*.py")}
    assert modules == {module for module, _ in cli._COMMANDS.values()}


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["data", "--help"], []])
def test_lazy_help_reads_as_the_eager_help(args: list[str]) -> None:
    eager = typer.Typer(
        name="shopveil",
        help="Personalize on customer data under a declared privacy policy.",
        no_args_is_help=True,
        add_completion=False,
    )
    eager.callback()(cli._root)
    for module in dict.fromkeys(module for module, _ in cli._COMMANDS.values()):
        __import__(f"shopveil._commands.{module}", fromlist=["register"]).register(eager)
    runner = CliRunner()
    lazy_out = runner.invoke(cli.app, args, prog_name="shopveil", terminal_width=100)
    eager_out = runner.invoke(eager, args, prog_name="shopveil", terminal_width=100)
    assert lazy_out.exit_code == eager_out.exit_code
    if len(args) > 1:
        assert lazy_out.output == eager_out.output
    else:  # the root's listing: the table's order, which the test above checks
        assert sorted(lazy_out.output.splitlines()) == sorted(eager_out.output.splitlines())


def test_a_mistyped_command_is_suggested_and_a_command_runs() -> None:
    runner = CliRunner()
    result = runner.invoke(cli.app, ["scna"])
    assert result.exit_code == 2 and "Did you mean 'scan'?" in result.output
    result = runner.invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output == f"shopveil {shopveil.__version__}\n"
    result = runner.invoke(cli.app, ["assess", "no-such-file.csv", "--qi", "a"])
    assert result.exit_code == 2 and "no-such-file.csv" in result.output
