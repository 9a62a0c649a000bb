"""Policies that state the law: bad keys name their file and line, every release is for a
role, and no preset claims what its output is not."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from shopveil._core.classes import ColumnClass, Kind
from shopveil.errors import AccessDenied, PolicyError
from shopveil.policy import compile_plan, load_policy, preset_file

SCHEMA = pa.schema([("customer_id", pa.string()), ("qty", pa.string())])
LABELS = {
    "customer_id": (ColumnClass.DIRECT_IDENTIFIER, Kind.CUSTOMER_ID),
    "qty": (ColumnClass.OTHER, Kind.AMOUNT),
}


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        # A law ShopVeil has no preset for.
        ("shopveil_policy: 1\nname: x\nextends: gdpr\njurisdiction: hipaa\n", 4,
         "jurisdiction: 'hipaa' is not allowed; use one of gdpr, ccpa, lgpd, pipl"),
        # A key no section knows, such as an article written as a key.
        ("shopveil_policy: 1\nname: x\nextends: gdpr\nminors:\n  art_8_age: 13\n", 4,
         "'art_8_age' was unexpected"),
        ("shopveil_policy: 1\nname: x\nextends: gdpr\nrequirements:\n  art_9: true\n", 4,
         "'art_9' was unexpected"),
        # The advisory flag that promised nothing is gone: aggregates are DP queries anyway.
        ("shopveil_policy: 1\nname: x\nextends: gdpr\nrequirements:\n"
         "  aggregates_require_dp: true\n", 4, "'aggregates_require_dp' was unexpected"),
        # An age below the law's, and a purpose the policy does not declare.
        ("shopveil_policy: 1\nname: x\nextends: pipl\nminors:\n  age: 13\n", 5,
         "minors.age is 13; under pipl give 14 to 18 (PIPL Art. 28, 31: under 14)"),
        ("shopveil_policy: 1\nname: x\nextends: gdpr\nminors:\n  purposes: [ads]\n", 5,
         "minors.purposes names 'ads', which the policy does not declare"),
        # A purpose's consent flag must be a boolean.
        ("shopveil_policy: 1\nname: x\nextends: gdpr\npurposes:\n  analytics:\n"
         "    release_modes: [record]\n    sensitive_data_consent: maybe\n", 7,
         "'maybe' is not of type 'boolean'"),
    ],
)  # fmt: skip
def test_bad_keys_and_values_name_the_file_and_the_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = _policy(tmp_path, text)
    with pytest.raises(PolicyError) as bad:
        load_policy(path)
    assert str(bad.value).startswith(f"{path}:{line}: "), bad.value
    assert says in str(bad.value)


def test_a_policy_without_roles_releases_nothing(tmp_path: Path) -> None:
    path = _policy(
        tmp_path,
        "shopveil_policy: 1\nname: open\npurposes:\n  analytics: {release_modes: [record]}\n",
    )
    with pytest.raises(AccessDenied, match="declares no roles, and every release is for a role"):
        compile_plan(load_policy(path), SCHEMA, purpose="analytics", labels=LABELS)


def test_without_a_role_the_least_privileged_one_is_chosen() -> None:
    plan = compile_plan(load_policy("gdpr"), SCHEMA, purpose="analytics", labels=LABELS)
    assert plan.role == "analyst"


@pytest.mark.parametrize("law", ["gdpr", "ccpa", "lgpd", "pipl"])
def test_no_preset_prints_an_advisory_note_it_does_not_enforce(law: str) -> None:
    plan = compile_plan(load_policy(law), SCHEMA, purpose="analytics", labels=LABELS)
    assert not any("differential privacy" in note for note in plan.notes)


def test_ccpa_calls_its_output_pseudonymized_not_deidentified() -> None:
    text = Path(preset_file("ccpa")).read_text()
    assert "pseudonymized (1798.140(aa)), not deidentified" in text
    assert "use deidentified data" not in text


def test_pipl_says_de_identified_data_still_needs_a_transfer_mechanism_and_consent() -> None:
    text = " ".join(Path(preset_file("pipl")).read_text().replace("#", "").split())
    assert "leaves its region only de-identified" not in text
    assert "still needs a transfer mechanism (Art. 38) and the customer's separate consent" in text


@pytest.mark.parametrize(("law", "age"), [("gdpr", 16), ("ccpa", 16), ("lgpd", 12), ("pipl", 14)])
def test_each_preset_names_its_laws_age(law: str, age: int) -> None:
    minors = load_policy(law).minors
    assert minors is not None and minors.age == age
    assert {"marketing", "model_training"} <= minors.purposes


def test_explain_names_the_minors_rule_for_the_purposes_it_covers() -> None:
    from shopveil.policy import explain_policy

    marketing = explain_policy(load_policy("ccpa"), purpose="marketing").notes
    assert any(
        n.startswith("customers under 16 are left out of releases for marketing")
        and "rows of unknown age are kept (ccpa.yaml:" in n
        for n in marketing
    )
    analytics = explain_policy(load_policy("ccpa"), purpose="analytics").notes
    assert not any("customers under" in n for n in analytics)
