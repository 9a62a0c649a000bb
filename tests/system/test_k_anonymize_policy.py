"""``anonymize --k``: k-anonymity composes with a policy and every release is audited.

``anonymize --k 5 --qi ...`` alone once released names, emails, cards and IP addresses in
clear, made k-anonymous only on the quasi-identifiers, and wrote no audit event.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from shopveil.audit import AuditLog
from shopveil.data import read_table
from shopveil.errors import SchemaError
from shopveil.keys import Keyring
from shopveil.pipeline import k_anonymize_file
from shopveil.store import Store

with warnings.catch_warnings():
    # typer imports a click helper that click 8.5 deprecates; not ours to fix here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from shopveil.cli import app

runner = CliRunner()
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus"]


def _customers(tmp_path: Path) -> tuple[Path, set[str]]:
    rng = random.Random(7)
    lines = ["full_name,email,card_number,ip_address,gender,age,country,quantity"]
    secrets = set()
    for i in range(200):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = f"{name.replace(' ', '.').lower()}{i}@example.com"
        ip = f"10.{i % 250}.{rng.randint(0, 250)}.{rng.randint(1, 250)}"
        card = "4111111111111111"
        gender, age = rng.choice(["female", "male"]), str(rng.randint(18, 80))
        country = rng.choice(["France", "Germany", "Spain"])
        lines.append(f"{name},{email},{card},{ip},{gender},{age},{country},{i % 5}")
        secrets |= {name, email, ip}
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, secrets | {"4111111111111111"}


def test_k_alone_removes_direct_identifiers_first_and_audits(tmp_path: Path) -> None:
    source, secrets = _customers(tmp_path)
    output = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["anonymize", str(source), "-o", str(output), "--k", "5", "--qi", "gender,age"]
    )
    assert result.exit_code == 0, result.stderr
    assert "policy 'gdpr'" in result.stdout and "audit" in result.stdout
    text = output.read_text()
    assert not any(secret in text for secret in secrets)
    table = read_table(output)
    assert {"full_name", "email", "card_number", "ip_address"}.isdisjoint(table.column_names)
    sizes = table.group_by(["gender", "age"]).aggregate([([], "count_all")])
    assert min(sizes.column("count_all").to_pylist()) >= 5

    store = Store.open()
    try:
        (event,) = AuditLog(store, Keyring.open(store)).events(action="anonymize.run")
    finally:
        store.close()
    details = event.details
    assert details["policy"] == "gdpr" and details["role"] == "analyst"
    assert details["table_release"]["quasi_identifiers"] == ["gender", "age"]
    assert details["table_release"]["k_reached"] >= 5
    assert details["rows_out"] == table.num_rows


def test_k_with_a_policy_uses_it(tmp_path: Path) -> None:
    source, secrets = _customers(tmp_path)
    done = k_anonymize_file(
        source, tmp_path / "out.parquet", k=3, qi=["age", "country"], policy="lgpd"
    )
    assert done.plan.policy == "lgpd"
    table = read_table(tmp_path / "out.parquet")
    # LGPD tokenizes the identifiers it does not drop: present, but no clear value.
    assert "card_number" not in table.column_names
    assert not secrets & {str(v) for c in table.columns for v in c.to_pylist()}


def test_a_direct_identifier_cannot_be_a_quasi_identifier(tmp_path: Path) -> None:
    source, _ = _customers(tmp_path)
    with pytest.raises(SchemaError, match="--qi names 'email', a direct identifier"):
        k_anonymize_file(source, tmp_path / "out.csv", k=2, qi=["email", "age"])
    assert not (tmp_path / "out.csv").exists()


ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"


def test_a_special_category_the_policy_drops_cannot_be_a_quasi_identifier(
    tmp_path: Path,
) -> None:
    # Adult's race column is ethnic origin (GDPR Art. 9): the preset drops it unless the
    # purpose declares explicit consent, so naming it in --qi must not release it.
    with pytest.raises(
        SchemaError, match=r"--qi names 'race', a special-category column \(ethnicity\)"
    ):
        k_anonymize_file(ADULT, tmp_path / "out.csv", k=5, qi=["age", "sex", "race"], policy="gdpr")
    assert not (tmp_path / "out.csv").exists()
    k_anonymize_file(ADULT, tmp_path / "out.csv", k=5, qi=["age", "sex"], policy="gdpr")
    assert "race" not in read_table(tmp_path / "out.csv").column_names
