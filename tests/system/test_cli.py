"""The command-line contract, run as a real subprocess: output, exit codes, no partial files."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from shopveil.data._io import read_table

SHOPVEIL = [sys.executable, "-m", "shopveil.cli"]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SHOPVEIL_HOME": str(cwd / ".shopveil"), "COLUMNS": "200"}
    environment.pop("SHOPVEIL_MASTER_KEY", None)
    environment.update(env or {})
    return subprocess.run(
        [*SHOPVEIL, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


def write_customers(path: Path) -> None:
    lines = ["customer_id,email,phone,birth_date,country,quantity"]
    countries = ["France", "Germany", "Spain"]
    for i in range(60):
        lines.append(
            f"{1000 + i},user{i}@mail-{i % 5}.com,+44 20 7946 {i:04d},"
            f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9},{countries[i % 3]},{i % 7 + 1}"
        )
    path.write_text("\n".join(lines) + "\n")


def test_help_lists_every_command_with_one_line(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("scan", "anonymize", "demo", "recommend", "evaluate", "budget"):
        assert command in result.stdout


def test_python_dash_m_shopveil_is_the_command_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopveil", "--version"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("shopveil "), result.stderr


def test_scan_then_anonymize_with_the_draft_policy(tmp_path: Path) -> None:
    write_customers(tmp_path / "customers.csv")
    scanned = run("scan", "customers.csv", "--json", cwd=tmp_path)
    assert scanned.returncode == 0, scanned.stderr
    report = json.loads(scanned.stdout)
    classes = {c["column"]: c["column_class"] for c in report["columns"]}
    assert classes["email"] == "direct_identifier"
    assert classes["quantity"] == "other"
    draft = tmp_path / "customers.policy.yaml"
    assert draft.is_file() and "extends: gdpr" in draft.read_text()
    # Raw values never reach the scan's output.
    assert "user0@mail-0.com" not in scanned.stdout

    done = run("anonymize", "customers.csv", "-o", "out.csv", "--policy", str(draft), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = read_table(tmp_path / "out.csv")
    assert out.num_rows == 60
    assert "email" not in out.column_names  # GDPR drops contact data for analytics
    assert not {str(1000 + i) for i in range(60)} & set(out.column("customer_id").to_pylist())


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        (
            None,
            ["anonymize", "missing.csv", "-o", "out.csv", "--policy", "gdpr"],
            2,
            "no such file",
        ),
        (
            "broken",
            ["anonymize", "c.csv", "-o", "out.csv", "--policy", "gdpr"],
            2,
            "line 3: expected 6 columns",
        ),
        (
            "yaml",
            ["anonymize", "c.csv", "-o", "out.csv", "--policy", "bad.yaml"],
            2,
            "flow sequence started at line 2",
        ),
        (
            "ok",
            ["anonymize", "c.csv", "-o", "out.txt2", "--policy", "gdpr"],
            2,
            "cannot tell the format",
        ),
        ("ok", ["anonymize", "c.csv", "-o", "out.csv"], 2, "give --policy"),
        (
            "ok",
            ["anonymize", "c.csv", "-o", "out.csv", "--policy", "gdpr", "--purpose", "x"],
            2,
            "unknown purpose",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_exit_2_and_no_output(
    tmp_path: Path, setup: str | None, args: list[str], code: int, message: str
) -> None:
    if setup is not None:
        write_customers(tmp_path / "c.csv")
    if setup == "broken":
        text = (tmp_path / "c.csv").read_text().splitlines()
        text[2] += ",surplus"
        (tmp_path / "c.csv").write_text("\n".join(text) + "\n")
    if setup == "yaml":
        (tmp_path / "bad.yaml").write_text("shopveil_policy: 1\nname: [unclosed\n")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()
    assert "Traceback" not in result.stderr


def test_wrong_master_key_fails_without_output(tmp_path: Path) -> None:
    write_customers(tmp_path / "c.csv")
    first = run(
        "anonymize",
        "c.csv",
        "-o",
        "a.csv",
        "--policy",
        "gdpr",
        cwd=tmp_path,
        env={"SHOPVEIL_MASTER_KEY": secrets.token_bytes(32).hex()},
    )
    assert first.returncode == 0, first.stderr
    second = run(
        "anonymize",
        "c.csv",
        "-o",
        "b.csv",
        "--policy",
        "gdpr",
        cwd=tmp_path,
        env={"SHOPVEIL_MASTER_KEY": secrets.token_bytes(32).hex()},
    )
    assert second.returncode == 1
    assert "SHOPVEIL_MASTER_KEY" in second.stderr
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.slow
def test_demo_writes_its_outputs(tmp_path: Path) -> None:
    result = run("demo", "-o", "demo-out", "--customers", "500", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "demo-out"
    for name in (
        "online_retail.parquet", "customers.parquet", "chats.parquet", "summary.html",
        "recommender.npz",
    ):  # fmt: skip
        assert (out / name).is_file()
    assert "columns personal" in result.stdout
    assert "fitted and charged now" in " ".join(result.stdout.split())
    html = (out / "summary.html").read_text()
    assert "<h2>customers</h2>" in html and "<h2>Personalization</h2>" in html
    # Scorecards beside the summary: the generated customers' release, by its plan's
    # quasi-identifiers and its manifest's audit event, and the DP recommender.
    for name in ("customers", "recommender"):
        assert f"<a href='scorecard-{name}.html'>" in html
        page = (out / f"scorecard-{name}.html").read_text()
        assert "<svg" in page and "audit event <b>#" in page
    assert "audit_seq" in (out / "customers.parquet.release.json").read_text()
    assert "ε = 1, membership AUC" in (out / "scorecard-recommender.html").read_text()
    customers = read_table(out / "customers.parquet")
    assert "email" not in customers.column_names
    _assert_no_python_warning(result)


def _assert_no_python_warning(result: subprocess.CompletedProcess[str]) -> None:
    """Library warnings reach the user as notes, never as a warning with a source path."""
    for text in (result.stdout, result.stderr):
        assert not re.search(r"Warning\b", text), text
        assert not re.search(r"\.py:\d+", text), text


@pytest.mark.slow
def test_the_demo_says_how_to_go_on_when_its_model_is_gone(tmp_path: Path) -> None:
    first = run("demo", "--customers", "300", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    _assert_no_python_warning(first)
    assert "co-purchase release is all noise" in " ".join(first.stdout.split())
    (tmp_path / "demo-output" / "recommender.npz").unlink()
    again = run("demo", "--customers", "300", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    found = re.search(r"`(SHOPVEIL_HOME=\S+) shopveil (demo)`", " ".join(again.stdout.split()))
    assert found is not None, again.stdout
    variable, value = found.group(1).split("=")
    suggested = run(found.group(2), "--customers", "300", cwd=tmp_path, env={variable: value})
    assert suggested.returncode == 0, suggested.stderr
    assert "fitted and charged now" in " ".join(suggested.stdout.split())


def test_budget_show_fits_80_columns_and_wraps_long_names_whole(tmp_path: Path) -> None:
    name = "online_retail_2010-12-01_2010-12-12_as_exported_by_the_data_steward_for_the_analysts"
    path = tmp_path / "orders.csv"
    path.write_text("CustomerID,Country\n" + "".join(f"{1000 + i},France\n" for i in range(40)))
    assert run("data", "add", name, str(path), "--unit", "CustomerID", cwd=tmp_path).returncode == 0
    query = run(
        "query", "SELECT COUNT(*) FROM t", "--data", name, "--table", "t", "--epsilon", "0.1",
        "--analyst", "an analyst with a long name", cwd=tmp_path,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    shown = run("budget", "show", cwd=tmp_path, env={"COLUMNS": "80"})
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in shown.stdout
    joined = "".join(line.strip() for line in lines)
    (account,) = json.loads(run("budget", "show", "--json", cwd=tmp_path).stdout)
    (charge,) = account["charges"]
    assert name in joined and charge["request_id"] in joined
    assert "spent ε=0.1, δ=0" in shown.stdout
