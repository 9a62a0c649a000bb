"""Policy loading (schema, presets, line numbers) and compilation into a Plan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil._core.classes import ColumnClass, Kind
from shopveil.errors import AccessDenied, PolicyError, SchemaError
from shopveil.policy import PRESETS, ReleaseMode, compile_plan, load_policy, parse_policy
from shopveil.pseudo import KeyedToken, Normalization

DIRECT, QUASI, SENSITIVE, OTHER = (
    ColumnClass.DIRECT_IDENTIFIER,
    ColumnClass.QUASI_IDENTIFIER,
    ColumnClass.SENSITIVE,
    ColumnClass.OTHER,
)
CUSTOMERS = pa.schema(
    [
        (name, pa.string())
        for name in ("customer_id", "email", "birth_date", "postcode", "note", "qty")
    ]
)
LABELS = {
    "customer_id": (DIRECT, Kind.CUSTOMER_ID),
    "email": (DIRECT, Kind.EMAIL),
    "birth_date": (QUASI, Kind.BIRTH_DATE),
    "postcode": (QUASI, Kind.POSTCODE),
    "note": (SENSITIVE, Kind.FREE_TEXT),
    "qty": (OTHER, Kind.AMOUNT),
}


def techniques(plan_steps: object) -> dict[str, str]:
    return {step.column: step.technique for step in plan_steps}  # type: ignore[attr-defined]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_loads_and_compiles(preset: str) -> None:
    policy = load_policy(preset)
    assert policy.jurisdiction is not None and policy.jurisdiction.value == preset
    plan = compile_plan(policy, CUSTOMERS, purpose="analytics", labels=LABELS)
    assert techniques(plan.steps)["qty"] == "keep"
    # No preset releases a direct identifier in clear for analytics.
    assert techniques(plan.steps)["customer_id"] != "keep"
    assert techniques(plan.steps)["email"] != "keep"


def test_gdpr_minimises_per_purpose() -> None:
    policy = load_policy("gdpr")
    analytics = techniques(
        compile_plan(policy, CUSTOMERS, purpose="analytics", labels=LABELS).steps
    )
    fulfilment = techniques(
        compile_plan(
            policy, CUSTOMERS, purpose="fulfilment", role="support_agent", labels=LABELS
        ).steps
    )
    assert analytics == {
        "customer_id": "token",
        "email": "drop",
        "birth_date": "age_band",
        "postcode": "generalize_postcode",
        "note": "redact",
        "qty": "keep",
    }
    assert fulfilment["email"] == "keep"
    assert fulfilment["postcode"] == "keep"  # a parcel needs the whole postcode


def test_pipl_keeps_training_federated_and_data_in_region() -> None:
    policy = load_policy("pipl")
    assert policy.purposes["model_training"].release_modes == {ReleaseMode.FEDERATED}
    assert policy.processing.transfers.region == "cn"  # leaving it is a transfer
    with pytest.raises(AccessDenied, match="does not allow record-level release"):
        compile_plan(policy, CUSTOMERS, purpose="model_training", labels=LABELS)


def test_ccpa_filters_opted_out_rows_for_marketing_only() -> None:
    schema = CUSTOMERS.append(pa.field("opted_out_of_sale", pa.string()))
    labels = {**LABELS, "opted_out_of_sale": (OTHER, Kind.UNKNOWN)}
    policy = load_policy("ccpa")
    marketing = compile_plan(policy, schema, purpose="marketing", labels=labels)
    analytics = compile_plan(policy, schema, purpose="analytics", labels=labels)
    assert marketing.opt_out_column == "opted_out_of_sale"
    assert analytics.opt_out_column is None
    lacking = compile_plan(policy, CUSTOMERS, purpose="marketing", labels=LABELS)
    assert any("opt-out" in note for note in lacking.notes)


def test_a_policy_extends_a_preset_and_overrides_a_column(tmp_path: Path) -> None:
    path = tmp_path / "retail.yaml"
    path.write_text(
        "shopveil_policy: 1\n"
        "name: retail\n"
        "extends: gdpr\n"
        "columns:\n"
        "  email:\n"
        "    class: direct_identifier\n"
        "    kind: email\n"
        "    technique: token\n"
        "    params: {normalize: casefold}\n"
        "    purposes:\n"
        "      support: {technique: keep}\n"
    )
    policy = load_policy(path)
    analytics = compile_plan(policy, CUSTOMERS, purpose="analytics", labels=LABELS)
    assert analytics.step("email").technique == "token"
    assert analytics.step("email").reason == f"named in {path}:5"
    support = compile_plan(
        policy, CUSTOMERS, purpose="support", role="support_agent", labels=LABELS
    )
    assert support.step("email").technique == "keep"
    assert analytics.step("birth_date").technique == "age_band"  # inherited rule


def test_the_plan_runs_the_operators_the_policy_built_once(tmp_path: Path) -> None:
    path = tmp_path / "retail.yaml"
    path.write_text(
        "shopveil_policy: 1\nname: retail\nextends: gdpr\ncolumns:\n"
        "  email: {class: direct_identifier, kind: email, technique: token,\n"
        "          params: {normalize: casefold}}\n"
    )
    path.with_name("pinned.yaml").write_text(
        path.read_text().replace("casefold}", "casefold, domain: email}")
    )
    policy = load_policy(path)
    built = policy.columns["email"].default.operator
    assert isinstance(built, KeyedToken) and built.normalize is Normalization.CASEFOLD
    assert built.domain == "email"  # the kind's default, filled when it was built
    first = compile_plan(policy, CUSTOMERS, purpose="analytics", labels=LABELS)
    second = compile_plan(policy, CUSTOMERS, purpose="marketing", labels=LABELS)
    # The built operator, keyed for the recipient: only its domain is bound to them.
    assert first.step("email").operator == replace(built, domain="email|gdpr|analyst")
    assert second.step("email").operator == replace(built, domain="email|gdpr|marketer")
    pinned = load_policy(path.with_name("pinned.yaml"))  # a domain the policy sets is kept
    built = pinned.columns["email"].default.operator
    plan = compile_plan(pinned, CUSTOMERS, purpose="analytics", labels=LABELS)
    assert plan.step("email").operator is built


def test_a_rule_without_a_kind_takes_each_columns_kind_for_what_it_leaves_open() -> None:
    policy = parse_policy(
        "shopveil_policy: 1\nname: ids\nextends: base\nrules:\n"
        "  - when: {class: direct_identifier}\n    technique: token\n"
        "  - when: {class: sensitive}\n    technique: token\n    params: {domain: notes}\n"
    )
    rule = policy.rules[0].default
    assert isinstance(rule.operator, KeyedToken) and rule.operator.domain is None
    plan = compile_plan(policy, CUSTOMERS, purpose="analytics", role="admin", labels=LABELS)
    domains = {
        step.column: step.operator.domain
        for step in plan.steps
        if isinstance(step.operator, KeyedToken)
    }
    # Ids of one kind share tokens across tables (for one recipient: jurisdiction and
    # role; base sets none); the domain the policy set is kept as written.
    assert domains == {
        "customer_id": "customer_id|none|admin",
        "email": "email|none|admin",
        "note": "notes",
    }
    assert policy.rules[1].default.for_kind(Kind.FREE_TEXT) is policy.rules[1].default.operator


def test_a_role_sees_only_the_classes_it_may(tmp_path: Path) -> None:
    policy = load_policy("gdpr")
    plan = compile_plan(policy, CUSTOMERS, purpose="marketing", role="marketer", labels=LABELS)
    # A marketer may not see sensitive columns: the free text is redacted whole.
    assert plan.step("note").technique == "redact"
    assert "may not see sensitive" in plan.step("note").reason
    with pytest.raises(AccessDenied, match="may not process data for purpose 'fulfilment'"):
        compile_plan(policy, CUSTOMERS, purpose="fulfilment", role="marketer", labels=LABELS)


def test_unlisted_unclassified_columns_fail_closed() -> None:
    with pytest.raises(SchemaError, match="neither named in policy"):
        compile_plan(load_policy("gdpr"), CUSTOMERS, purpose="analytics", labels={})


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # Malformed YAML: the parser's line.
        ("shopveil_policy: 1\nname: x\ncolumns: [\n", 4, "fix the YAML syntax"),
        # A key the schema does not know, with the allowed keys as the fix.
        ("shopveil_policy: 1\nname: x\npurpoces: {}\n", 1, "remove or rename it"),
        # An unknown class inside a column.
        (
            "shopveil_policy: 1\nname: x\ncolumns:\n  a:\n    class: secret\n    technique: drop\n",
            5,
            "use one of direct_identifier",
        ),
        # An unknown technique.
        (
            "shopveil_policy: 1\nname: x\ncolumns:\n  a:\n    class: other\n    technique: blur\n",
            6,
            "unknown technique 'blur'",
        ),
        # A parameter the technique does not take.
        (
            "shopveil_policy: 1\nname: x\ncolumns:\n  a:\n    class: other\n"
            "    technique: generalize_date\n    params: {unit: month}\n",
            6,
            "has no parameter 'unit'; its parameters are: to",
        ),
        # A parameter value out of range.
        (
            "shopveil_policy: 1\nname: x\ncolumns:\n  a:\n    class: other\n"
            "    technique: age_band\n    params: {width: 0}\n",
            6,
            "width must be a positive integer",
        ),
        # A role naming a purpose nobody declared.
        (
            "shopveil_policy: 1\nname: x\npurposes:\n  analytics: {release_modes: [record]}\n"
            "roles:\n  analyst:\n    purposes: [analytics, spying]\n    sees: [other]\n",
            7,
            "purpose 'spying'",
        ),
        # The same key twice.
        ("shopveil_policy: 1\nname: x\nname: y\n", 3, "appears twice"),
    ],
)
def test_invalid_policies_name_the_file_the_line_and_the_fix(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert f":{line}:" in str(info.value)
    assert message in str(info.value)


def test_an_unknown_column_in_the_policy_is_refused_with_its_line() -> None:
    policy = parse_policy(
        "shopveil_policy: 1\nname: x\nextends: gdpr\ncolumns:\n  Emial:\n"
        "    class: direct_identifier\n    technique: drop\n",
        source="typo.yaml",
    )
    with pytest.raises(SchemaError, match=r"typo.yaml:5: the policy names column 'Emial'"):
        compile_plan(policy, CUSTOMERS, purpose="analytics", labels=LABELS)


def test_missing_policy_file() -> None:
    with pytest.raises(PolicyError, match="no such policy file"):
        load_policy("does-not-exist.yaml")
