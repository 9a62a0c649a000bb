"""What a release does when the caller leaves something out or the data is unclear.

Leaving out ``--role`` once released support data with full card numbers (now no role
gets them), and an opt-out flag of ``"opted out"`` counted as not opted out.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil.data import read_table
from shopveil.errors import AccessDenied, SchemaError
from shopveil.pipeline import anonymize_file
from shopveil.policy import compile_plan, load_policy

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
CARDS = ["4111111111111111", "5500005555555559", "340000000000009"]


def _customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    lines = ["customer_id,card_number,birth_date,message"]  # adults: marketing may have them
    lines += [
        f"{i},{CARDS[i % 3]},1980-01-{i % 28 + 1:02},the parcel for order {i} came late and "
        "the box was torn"
        for i in range(30)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_support_without_a_role_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    source, output = _customers(tmp_path), tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["anonymize", str(source), "-o", str(output), "--policy", "gdpr", "--purpose", "support"],
    )
    assert result.exit_code == 1, result.output
    assert "needs a role" in result.stderr and "--role" in result.stderr
    assert not output.exists()
    with_role = runner.invoke(
        app,
        [
            *("anonymize", str(source), "-o", str(output), "--policy", "gdpr"),
            *("--purpose", "support", "--role", "support_agent"),
        ],
    )
    assert with_role.exit_code == 0, with_role.stderr
    # Even the support agent sees only the last four digits.
    shown = read_table(output).column("card_number").to_pylist()[:3]
    assert [s[-4:] for s in shown] == [c[-4:] for c in CARDS] and not set(shown) & set(CARDS)


@pytest.mark.parametrize(("purpose", "role"), [("analytics", "analyst"), ("marketing", "marketer")])
def test_without_a_role_the_least_privileged_role_applies(
    tmp_path: Path, purpose: str, role: str
) -> None:
    source, output = _customers(tmp_path), tmp_path / "out.csv"
    result = anonymize_file(source, output, policy="gdpr", purpose=purpose)
    given = anonymize_file(
        source, tmp_path / "given.csv", policy="gdpr", purpose=purpose, role=role
    )
    assert result.plan.role == role
    assert any(f"role {role!r}" in note for note in result.plan.notes)
    assert [s.technique for s in result.plan.steps] == [s.technique for s in given.plan.steps]
    assert not set(CARDS) & set(output.read_text().split())


def test_a_marketer_by_default_sees_no_sensitive_text(tmp_path: Path) -> None:
    source, output = _customers(tmp_path), tmp_path / "out.csv"
    anonymize_file(source, output, policy="gdpr", purpose="marketing")
    assert "parcel" not in output.read_text()


def test_a_policy_whose_roles_do_not_cover_the_purpose_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "shopveil_policy: 1\nname: shop\npurposes:\n  analytics: {release_modes: [record]}\n"
        "  audit: {release_modes: [record]}\n"
        "roles:\n  auditor: {purposes: [audit], sees: [other]}\nrules: []\n"
    )
    schema = pa.schema([("quantity", pa.string())])
    with pytest.raises(AccessDenied, match="no role of policy 'shop' may process"):
        compile_plan(load_policy(path), schema, purpose="analytics", labels={})


def _opt_outs(tmp_path: Path, flags: list[str]) -> Path:
    path = tmp_path / "customers.csv"
    lines = ["customer_id,email,opted_out_of_sale"]
    lines += [f"{i},person{i}@example.com,{flag}" for i, flag in enumerate(flags)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_opted_out_in_words_counts_as_opted_out(tmp_path: Path) -> None:
    source = _opt_outs(tmp_path, ["opted out", "false", "Opted-Out", "", "TRUE", "no"])
    result = anonymize_file(source, tmp_path / "out.csv", policy="ccpa", purpose="marketing")
    assert (result.summary.rows_in, result.summary.rows_out) == (6, 3)


@pytest.mark.parametrize("flag", ["maybe", "opted in?", "2"])
def test_an_opt_out_flag_not_understood_is_refused(tmp_path: Path, flag: str) -> None:
    source = _opt_outs(tmp_path, ["false", flag, "true"])
    output = tmp_path / "out.csv"
    output.write_text("earlier release\n")
    with pytest.raises(SchemaError) as raised:
        anonymize_file(source, output, policy="ccpa", purpose="marketing")
    message = str(raised.value)
    assert "'opted_out_of_sale'" in message and "1 value(s)" in message
    assert flag not in message
    assert output.read_text() == "earlier release\n"
