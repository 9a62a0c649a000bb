"""Where each decision of a policy is written, and which recipients share token keys.

A reason once read ``mine rule 1`` for a rule the user's policy inherited from the GDPR
preset: nothing a reader could open. And a release for CCPA marketing got the very
tokens of a release for GDPR marketing, so the two teams' copies joined.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil._core.classes import ColumnClass, Kind
from shopveil._core.operators import OperatorContext
from shopveil.errors import AccessDenied, PolicyError
from shopveil.keys import Keyring
from shopveil.pipeline import apply_plan
from shopveil.policy import (
    Policy,
    compile_plan,
    explain_policy,
    load_policy,
    parse_policy,
    preset_file,
)
from shopveil.pseudo import KeyedToken
from shopveil.store import Store

DIRECT, QUASI, SENSITIVE = (
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
)
SCHEMA = pa.schema([(n, pa.string()) for n in ("customer_id", "email", "name", "note", "pc")])
LABELS = {
    "customer_id": (DIRECT, Kind.CUSTOMER_ID),
    "email": (DIRECT, Kind.EMAIL),
    "name": (DIRECT, Kind.PERSON_NAME),
    "note": (SENSITIVE, Kind.FREE_TEXT),
    "pc": (QUASI, Kind.POSTCODE),
}
MINE = """\
shopveil_policy: 1
name: mine
extends: gdpr
columns:
  email:
    class: direct_identifier
    kind: email
    technique: token
    purposes:
      support: {technique: keep}
rules:
  - when: {class: sensitive}
    technique: drop
  - when: {class: sensitive, kind: free_text}
    technique: redact
gates:
  k: 5
"""


def _line(path: str, number: int) -> str:
    return Path(path).read_text().splitlines()[number - 1]


@pytest.fixture
def mine(tmp_path: Path) -> Policy:
    path = tmp_path / "mine.yaml"
    path.write_text(MINE)
    return load_policy(path)


def test_a_rule_inherited_from_a_preset_is_credited_to_the_presets_file_and_line(
    mine: Policy, tmp_path: Path
) -> None:
    plan = compile_plan(mine, SCHEMA, purpose="analytics", labels=LABELS)
    reason = plan.step("customer_id").reason
    assert reason == "rule gdpr.yaml:12"  # not "mine rule 3"
    assert "kind: customer_id" in _line(preset_file("gdpr"), 12)
    origin = plan.step("customer_id").origin
    assert origin is not None and origin.preset == "gdpr" and origin.file == "gdpr.yaml"
    # The user's own rule and column name the user's file.
    assert plan.step("note").reason == f"rule {tmp_path / 'mine.yaml'}:12"
    assert plan.step("email").reason == f"named in {tmp_path / 'mine.yaml'}:5"
    assert plan.step("pc").reason == "rule gdpr.yaml:42"


def test_a_purpose_override_names_its_own_line(mine: Policy, tmp_path: Path) -> None:
    plan = compile_plan(mine, SCHEMA, purpose="support", role="support_agent", labels=LABELS)
    assert plan.step("name").technique == "keep"
    assert plan.step("name").reason == "rule gdpr.yaml:26, for support at gdpr.yaml:30"
    assert "support: {technique: keep}" in _line(preset_file("gdpr"), 30)
    assert plan.step("email").reason == (
        f"named in {tmp_path / 'mine.yaml'}:5, for support at {tmp_path / 'mine.yaml'}:10"
    )


def test_explain_lists_every_rule_with_its_source_and_which_wins(
    mine: Policy, tmp_path: Path
) -> None:
    found = explain_policy(mine)
    assert found.files == (str(tmp_path / "mine.yaml"), "gdpr.yaml", "base.yaml")
    assert found.presets == {"gdpr.yaml": preset_file("gdpr"), "base.yaml": preset_file("base")}
    assert [str(e.origin) for e in found.columns] == [f"{tmp_path / 'mine.yaml'}:5"]
    rules = {str(e.origin): e for e in found.rules}
    # The user's rules are tried before the preset's.
    assert [e.position for e in found.rules[:2]] == [1, 2]
    assert str(found.rules[0].origin) == f"{tmp_path / 'mine.yaml'}:12"
    # Rule 2 (sensitive free text) never applies: rule 1 takes every sensitive column.
    assert found.rules[1].covered_by == 1
    # GDPR's "any direct identifier" rule: the id rules before it win for their kinds.
    catch_all = rules["gdpr.yaml:26"]
    assert catch_all.covered_by is None
    assert [(p, k.value if k else None) for p, _, k in catch_all.taken_by] == [
        (3, "customer_id"),
        (4, "loyalty_id"),
        (5, "device_id"),
        (6, "card_number"),
    ]
    choices = {c.purpose: (c.technique, str(c.origin)) for c in catch_all.choices}
    assert choices == {
        None: ("drop", "gdpr.yaml:26"),
        "fulfilment": ("keep", "gdpr.yaml:29"),
        "support": ("keep", "gdpr.yaml:30"),
    }
    assert [(g.requirement, str(g.origin)) for g in found.gates] == [
        ("k >= 5", f"{tmp_path / 'mine.yaml'}:17")
    ]
    as_json = found.to_dict()
    assert as_json["rules"][2]["source"] == {"file": "gdpr.yaml", "line": 12, "preset": "gdpr"}


def test_explain_for_a_purpose_shows_its_role_its_key_domains_and_what_it_cannot_see(
    mine: Policy,
) -> None:
    found = explain_policy(mine, purpose="marketing")
    assert found.role == "marketer"  # the role a release without --role gets
    ids = next(e for e in found.rules if e.kind is Kind.CUSTOMER_ID)
    assert [(c.technique, c.domain, c.shared) for c in ids.choices] == [
        ("token", "customer_id|gdpr|marketer", False)
    ]
    free_text = next(e for e in found.rules if e.kind is Kind.FREE_TEXT and e.column_class is None)
    # A marketer sees neither identifiers nor sensitive columns: there, free text is
    # redacted whole instead of span by span.
    assert free_text.choices[0].hidden == (DIRECT, SENSITIVE)
    with pytest.raises(PolicyError, match="unknown purpose 'sales'"):
        explain_policy(mine, purpose="sales")
    with pytest.raises(AccessDenied, match="may not process data for purpose 'support'"):
        explain_policy(mine, purpose="support", role="marketer")
    needs_role = explain_policy(mine, purpose="support")
    assert needs_role.role is None and any("needs --role" in n for n in needs_role.notes)


def _tokens(store: Store, policy: Policy, purpose: str, role: str | None = None) -> list[str]:
    table = pa.table({"customer_id": ["17850", "13047", "12583"]})
    plan = compile_plan(
        policy,
        table.schema,
        purpose=purpose,
        role=role,
        labels={"customer_id": LABELS["customer_id"]},
    )
    keys = Keyring.open(store)
    return apply_plan(plan, table, keys=keys).column("customer_id").to_pylist()


@pytest.fixture
def keyed_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("SHOPVEIL_MASTER_KEY", secrets.token_hex(32))
    return Store.open(f"sqlite:///{tmp_path / 'keys.db'}")


def test_copies_for_other_jurisdictions_or_roles_get_other_tokens(keyed_store: Store) -> None:
    gdpr, ccpa = load_policy("gdpr"), load_policy("ccpa")
    eu = _tokens(keyed_store, gdpr, "marketing")
    assert eu == _tokens(keyed_store, gdpr, "marketing")  # stable for one recipient
    assert not set(eu) & set(_tokens(keyed_store, ccpa, "marketing"))
    assert not set(_tokens(keyed_store, gdpr, "analytics", "analyst")) & set(
        _tokens(keyed_store, gdpr, "analytics", "admin")
    )
    keyed_store.close()


def test_a_domain_the_policy_sets_lets_copies_join_and_keeps_earlier_tokens(
    keyed_store: Store,
) -> None:
    pinned = "  - when: {class: direct_identifier, kind: customer_id}\n    technique: token\n"
    pinned += "    params: {domain: customer_id}\n"
    eu = parse_policy(f"shopveil_policy: 1\nname: eu\nextends: gdpr\nrules:\n{pinned}")
    us = parse_policy(f"shopveil_policy: 1\nname: us\nextends: ccpa\nrules:\n{pinned}")
    shared = _tokens(keyed_store, eu, "marketing")
    assert shared == _tokens(keyed_store, us, "marketing")
    assert shared == _tokens(keyed_store, eu, "marketing", "admin")
    # The tokens releases made before domains were bound to recipients.
    earlier = KeyedToken(domain="customer_id").apply(
        pa.array(["17850", "13047", "12583"]),
        OperatorContext("marketing", "customer_id", Keyring.open(keyed_store)),
    )
    assert shared == earlier.to_pylist()
    # Purposes never share keys, whatever the domain.
    assert not set(shared) & set(_tokens(keyed_store, eu, "analytics"))
    keyed_store.close()
