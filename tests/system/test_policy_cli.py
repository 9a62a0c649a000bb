"""``shopveil policy explain``, the sources ``anonymize`` gives, and token domains end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from shopveil.audit import AuditLog
from shopveil.data import read_table
from shopveil.errors import SubjectErased
from shopveil.keys import Keyring, Vault
from shopveil.pipeline import anonymize_file
from shopveil.store import Store

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()

CUSTOMERS = (  # adults: marketing leaves minors, and rows of unknown age, out
    "customer_id,email,phone,postcode,quantity,birth_date\n"
    "17850,ann@example.com,+44 7700 900123,SW1A 1AA,3,1971-05-02\n"
    "13047,bob@example.com,+44 7700 900456,EC1A 1BB,5,1984-11-20\n"
    "12583,cy@example.com,+44 7700 900789,W1A 0AX,1,1990-02-14\n"
)
MINE = """\
shopveil_policy: 1
name: mine
extends: gdpr
columns:
  email:
    class: direct_identifier
    kind: email
    technique: token
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "mine.yaml").write_text(MINE)
    return tmp_path


def _preset_line(number: int) -> str:
    from shopveil.policy import preset_file

    return Path(preset_file("gdpr")).read_text().splitlines()[number - 1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopveil", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_anonymize_names_the_preset_line_of_an_inherited_rule(shop: Path) -> None:
    done = _run("anonymize", "customers.csv", "-o", "out.csv", "--policy", "mine.yaml")
    assert done.returncode == 0, done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if "│" in line}
    assert "rule gdpr.yaml:12" in rows["customer_id"]  # once "mine rule 1"
    assert "named in mine.yaml:5" in rows["email"]
    assert "rule gdpr.yaml:26" in rows["phone"]
    assert "kind: customer_id" in _preset_line(12)
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr


def test_policy_explain_prints_sources_precedence_and_key_domains(shop: Path) -> None:
    done = _run("policy", "explain", "--policy", "mine.yaml", "--purpose", "marketing")
    assert done.returncode == 0, done.stderr
    from shopveil.policy import preset_file

    out = done.stdout
    assert "gdpr.yaml is shipped in the package: " + preset_file("gdpr") in out
    assert "mine.yaml:5" in out and "gdpr.yaml:12" in out and "gdpr.yaml:26" in out
    assert "customer_id|gdpr|marketer" in out and "email|gdpr|marketer" in out
    assert "rule 1 wins for direct_identifier, customer_id" in out
    assert "params: {domain: NAME}" in " ".join(out.split())
    as_json = json.loads(_run("policy", "explain", "--policy", "ccpa", "--json").stdout)
    assert as_json["files"] == ["ccpa.yaml", "base.yaml"]
    assert as_json["rules"][0]["source"] == {"file": "ccpa.yaml", "line": 12, "preset": "ccpa"}
    assert as_json["rules"][0]["choices"][0]["domain"] == "customer_id|ccpa|<role>"


def test_policy_explain_refuses_bad_input_in_one_line(shop: Path) -> None:
    unknown = _run("policy", "explain", "--purpose", "sales")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: preset:gdpr: unknown purpose 'sales'")
    assert len(unknown.stderr.splitlines()) == 1
    denied = _run("policy", "explain", "--purpose", "support", "--role", "marketer")
    assert denied.returncode == 1 and len(denied.stderr.splitlines()) == 1
    broken = shop / "broken.yaml"
    broken.write_text("shopveil_policy: 1\nname: x\nrules: [\n")
    bad = _run("policy", "explain", "--policy", "broken.yaml")
    assert bad.returncode == 2 and bad.stderr.startswith("error: broken.yaml:4:")


def test_eu_and_us_copies_for_one_purpose_do_not_join_unless_the_policy_says_so(
    shop: Path,
) -> None:
    for name, policy in (("eu", "gdpr"), ("us", "ccpa")):
        args = ["anonymize", "customers.csv", "-o", f"{name}.csv", "--policy", policy]
        result = runner.invoke(app, [*args, "--purpose", "marketing"])
        assert result.exit_code == 0, result.output
    eu = read_table(shop / "eu.csv").column("customer_id").to_pylist()
    us = read_table(shop / "us.csv").column("customer_id").to_pylist()
    assert len(set(eu)) == 3 and not set(eu) & set(us)
    for name, preset in (("eu", "gdpr"), ("us", "ccpa")):
        (shop / f"{name}.yaml").write_text(
            f"shopveil_policy: 1\nname: {name}\nextends: {preset}\nrules:\n"
            "  - when: {class: direct_identifier, kind: customer_id}\n"
            "    technique: token\n    params: {domain: customer_id}\n"
        )
        args = ["anonymize", "customers.csv", "-o", f"{name}-shared.csv"]
        result = runner.invoke(app, [*args, "--policy", f"{name}.yaml", "--purpose", "marketing"])
        assert result.exit_code == 0, result.output
    shared = read_table(shop / "eu-shared.csv").column("customer_id").to_pylist()
    assert shared == read_table(shop / "us-shared.csv").column("customer_id").to_pylist()


def test_erasure_and_the_vault_work_with_recipient_bound_domains(shop: Path) -> None:
    (shop / "erasable.yaml").write_text(
        "shopveil_policy: 1\nname: erasable\nextends: gdpr\ncolumns:\n"
        "  customer_id: {class: direct_identifier, kind: customer_id,"
        " technique: erasable_token}\n"
    )
    store = Store.open()
    keyring = Keyring.open(store)
    vault = Vault(store, keyring, AuditLog(store, keyring))
    addresses = vault.tokenize(
        ["1 Main St", "2 High St"], subject_ids=["17850", "13047"], purpose="fulfilment"
    )
    first = anonymize_file("customers.csv", "first.csv", policy="erasable.yaml", store=store)
    assert first.plan.step("customer_id").operator.domain == "customer_id|gdpr|analyst"  # type: ignore[union-attr]
    store.close()
    before = read_table(shop / "first.csv").column("customer_id").to_pylist()
    assert all(token.startswith("et1_") for token in before)

    erased = runner.invoke(app, ["erase", "--subject", "17850"])
    assert erased.exit_code == 0, erased.output

    store = Store.open()
    anonymize_file("customers.csv", "second.csv", policy="erasable.yaml", store=store)
    after = read_table(shop / "second.csv").column("customer_id").to_pylist()
    assert after == [None, *before[1:]]  # the erased subject's pseudonym is gone for good
    keyring = Keyring.open(store)
    vault = Vault(store, keyring, AuditLog(store, keyring))
    with pytest.raises(SubjectErased):
        vault.detokenize(addresses[:1], purpose="fulfilment", actor="test")
    assert vault.detokenize(addresses[1:], purpose="fulfilment", actor="test") == ["2 High St"]
    store.close()
