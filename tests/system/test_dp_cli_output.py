"""``shopveil query`` and ``shopveil budget``: data printed as text, parameters checked first.

Group values are data: printed through Rich markup, ``[/x]`` crashed the command after
the charge and ``[link=...]`` rendered a hidden link. A bad δ or a large ε failed only
after the charge.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CLOSING = "[/x]"
LINK = "[link=https://evil.example]click[/link]"


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    groups = [CLOSING, LINK, "plain"]
    path.write_text("Segment,Price\n" + "".join(f"{groups[i % 3]},{i % 5}\n" for i in range(300)))
    return path


def _spent(dataset: str) -> dict[str, str] | None:
    shown = runner.invoke(app, ["budget", "show", dataset, "--json"])
    if shown.exit_code != 0:
        assert "unknown dataset" in shown.stderr
        return None
    return json.loads(shown.stdout)[0]["spent"]


def test_group_values_print_as_text_never_as_markup(orders: Path) -> None:
    result = runner.invoke(
        app,
        [
            "query", "SELECT Segment, COUNT(*) AS n FROM orders GROUP BY Segment",
            "--data", str(orders), "--epsilon", "0.5", "--keys", f"Segment={CLOSING},{LINK},plain",
        ],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert CLOSING in result.stdout  # printed, not a markup error after the charge
    # the markup shows as it is (no hidden link), though a narrow table may wrap it over
    # lines or cut it short: the first column's pieces, joined, show its opening tag
    first = [line.split("│")[1] for line in result.stdout.splitlines() if line.count("│") > 2]
    assert LINK[: LINK.index("]") + 1] in re.sub(r"\s", "", "".join(first))
    assert "\x1b]8;" not in result.stdout


def test_budget_names_print_as_text(orders: Path) -> None:
    assert runner.invoke(app, ["budget", "set", CLOSING, "--epsilon", "1"]).exit_code == 0
    shown = runner.invoke(app, ["budget", "show"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert CLOSING in shown.stdout
    reset = runner.invoke(app, ["budget", "reset", CLOSING])
    assert reset.exit_code == 0 and CLOSING in reset.stdout


def test_zero_delta_with_private_keys_is_refused_before_the_charge(orders: Path) -> None:
    result = runner.invoke(
        app,
        [
            "query", "SELECT Segment, COUNT(*) FROM orders GROUP BY Segment",
            "--data", str(orders), "--epsilon", "0.5", "--delta", "0",
        ],
    )  # fmt: skip
    assert _spent("orders") is None  # nothing charged: no account even opened
    assert result.exit_code == 2, result.output
    assert "delta must be in (0, 1)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_large_epsilon_answers_and_charges_what_it_says(orders: Path) -> None:
    budget = ["budget", "set", "orders", "--epsilon", "1000", "--unit", "row"]
    assert runner.invoke(app, budget).exit_code == 0
    result = runner.invoke(
        app,
        [
            "query", "SELECT COUNT(*) AS n FROM orders", "--data", str(orders),
            "--epsilon", "900",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _spent("orders") == {"epsilon": "900", "delta": "0"}
