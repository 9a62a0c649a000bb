"""Every ``shopveil`` command in the README and docs/*.md runs as written.

From each document's ``sh``/``bash`` code blocks, every line that starts with
``shopveil`` (continued with ``\\`` or inside an open quote) is run in the order it
appears, in one fresh home per document, in a folder holding the files the docs name,
made from the data the package bundles (see :func:`_files`). ``$F``, the full Online
Retail file in the docs, is the bundled slice of it here. A command must exit 0, unless
its comment says ``(exit N)``: the doc then shows it failing on purpose. Blocks fenced
as ``text`` are syntax, not commands, and are not run. ``shopveil serve`` runs until it
is stopped, so it is not run here: the service tests start it on a free port.
"""

from __future__ import annotations

import re
import shlex
import shutil
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shopveil.data import bundled_online_retail, generate_retail, product_catalogue, write_table

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ADULT = ROOT / "tests" / "data" / "adult"
BLOCK = re.compile(r"^```(sh|bash)\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
EXIT = re.compile(r"#.*\(exit (\d+)\)")
SERVERS = {"serve"}
# A policy for the docs' retail.yaml: the Online Retail bounds of docs/dp-queries.md and
# a k gate over Adult's quasi-identifiers for docs/policies.md's assess.
RETAIL_POLICY = """\
shopveil_policy: 1
name: retail
extends: gdpr
gates:
  k: 5
  quasi_identifiers: [age, sex, native-country]
dp:
  bounds:
    UnitPrice: [0, 50]
    Quantity: [-100, 100]
  privacy_unit: {column: CustomerID, max_contributions: 20}
"""

runner = CliRunner()


@dataclass(frozen=True)
class Command:
    """One command of a document: where it is, its arguments, the exit code it shows."""

    line: int
    args: tuple[str, ...]
    code: int


def commands(doc: Path) -> list[Command]:
    """The document's ``shopveil`` commands, in order."""
    text = doc.read_text()
    found = []
    for block in BLOCK.finditer(text):
        first = text[: block.start(2)].count("\n") + 1
        pending, start = "", 0
        for offset, line in enumerate(block.group(2).splitlines()):
            if not pending and not line.lstrip().startswith("shopveil "):
                continue
            start = start if pending else first + offset
            pending += line[:-1] + " " if line.endswith("\\") else line + "\n"
            if line.endswith("\\"):
                continue
            try:
                args = shlex.split(pending, comments=True)
            except ValueError:  # a quoted SQL string goes on to the next line
                continue
            code = EXIT.search(pending)
            found.append(Command(start, tuple(args[1:]), int(code.group(1)) if code else 0))
            pending = ""
        assert not pending, f"{doc.name}:{start}: a command never ends"
    return found


def _files(folder: Path) -> dict[str, str]:
    """Write every file the docs name; return what ``$VARIABLES`` stand for."""
    orders = bundled_online_retail()
    earlier = pc.less(orders["InvoiceDate"], pa.scalar(datetime(2010, 12, 9)))
    write_table(orders, folder / "orders.csv")
    write_table(orders, folder / "online_retail.csv")
    write_table(orders.filter(earlier), folder / "earlier.csv")
    write_table(orders.filter(pc.invert(earlier)), folder / "later.csv")
    write_table(product_catalogue(), folder / "catalogue.csv")
    shutil.copy(ADULT / "adult_slice.csv", folder / "adult.csv")
    (folder / "hierarchies").mkdir()
    for path in ADULT.glob("adult_hierarchy_*.csv"):
        shutil.copy(path, folder / "hierarchies" / path.name)
    (folder / "retail.yaml").write_text(RETAIL_POLICY)
    (folder / "consent.csv").write_text(
        "customer,purpose,status,date\n"
        "17850,marketing,refused,2010-11-30\n"
        "13047,personalization,granted,2010-11-30\n"
    )
    customers = generate_retail(300, seed=4).tables["customers"]
    write_table(customers, folder / "customers.csv")
    write_table(customers.slice(0, 200), folder / "ours.csv")
    write_table(customers.slice(100, 200), folder / "partner.csv")
    return {"F": str(folder / "online_retail.csv")}


def _expand(args: tuple[str, ...], variables: dict[str, str]) -> list[str]:
    return [re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], a) for a in args]


def test_the_docs_have_commands_to_run() -> None:
    counted = {doc.name: len(commands(doc)) for doc in DOCS}
    assert counted["README.md"] >= 20
    assert counted["dp-queries.md"] >= 5 and counted["learn.md"] >= 4
    assert counted["policies.md"] >= 5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::shopveil.learn.NoSignalWarning")
@pytest.mark.parametrize("doc", [d for d in DOCS if commands(d)], ids=lambda d: d.name)
def test_every_command_of_a_document_runs_in_order(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    variables = _files(tmp_path)
    for command in commands(doc):
        if command.args[0] in SERVERS:
            continue
        args = _expand(command.args, variables)
        result = runner.invoke(app, args)
        where = f"{doc.name}:{command.line}: shopveil {shlex.join(command.args)}"
        assert result.exit_code == command.code, (where, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), where
