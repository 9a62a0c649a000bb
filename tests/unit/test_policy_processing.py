"""The policy's processing sections: what they load into, and bad input named by file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil._core.classes import ColumnClass, Kind
from shopveil.errors import AccessDenied, PolicyError, PrivacyError, SchemaError
from shopveil.policy import (
    Flow,
    Jurisdiction,
    RecipientKind,
    ReleaseStatus,
    TransferMechanism,
    UnknownAge,
    bind_processing,
    compile_plan,
    explain_policy,
    load_policy,
    parse_policy,
)

SECTIONS = """\
shopveil_policy: 1
name: shop
extends: {law}
recipients:
  adnet:
    kind: third_party
    flow: sale
    region: us
  mailer:
    kind: processor
    contract: DPA-2024-03
    roles: [marketer]
transfers:
  region: eu
  to:
    us:
      mechanisms: [gdpr.scc]
      reference: SCC 2021/914 module 1, signed 2024-05-01
retention:
  clock: [order_time, signup_date]
  purposes:
    marketing: {{days: 365}}
  columns:
    country: {{days: 30}}
  store:
    consent_history: {{days: 1825}}
release_status:
  anonymous: {{k: 20, max_risk: 0.05, epsilon_cap: 1.0}}
residence:
  column: residence
  jurisdictions:
    gdpr: [DE, FR]
    ccpa: [US-CA]
  otherwise: gdpr
"""


def _write(tmp_path: Path, text: str, name: str = "shop.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_sections_load_into_typed_values(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, SECTIONS.format(law="gdpr")))
    processing = policy.processing
    adnet, mailer = processing.recipients["adnet"], processing.recipients["mailer"]
    assert (adnet.kind, adnet.flow, adnet.region) == (RecipientKind.THIRD_PARTY, Flow.SALE, "us")
    assert (mailer.kind, mailer.flow) == (RecipientKind.PROCESSOR, Flow.ENTRUSTED)
    assert processing.recipient_for_role("marketer") is mailer
    route = processing.transfers.routes["us"]
    assert route.mechanisms == (TransferMechanism.GDPR_SCC,)
    assert route.mechanisms[0].article == "GDPR Art. 46(2)(c)"
    assert processing.retention.days_for("marketing") == 365
    assert processing.retention.days_for("analytics") is None
    assert processing.store_retention.consent_history == 1825
    assert processing.statuses[ReleaseStatus.ANONYMOUS].k == 20
    assert processing.residence is not None
    assert processing.residence.laws["us-ca"] is Jurisdiction.CCPA
    assert processing.residence.otherwise is Jurisdiction.GDPR


@pytest.mark.parametrize(
    ("old", "new", "line", "says"),
    [
        # An article key no law has: the mechanism's line, and the keys of its law.
        ("mechanisms: [gdpr.scc]", "mechanisms: [gdpr.sccs]", 17, "gdpr.adequacy, gdpr.scc"),
        ("mechanisms: [gdpr.scc]", "mechanisms: [gdpr.scc, pipl.contract]", 17, "pipl.standard"),
        # An unknown jurisdiction in the residence map, and as its fallback.
        ("    ccpa: [US-CA]", "    cppa: [US-CA]", 33, "unknown jurisdiction 'cppa'"),
        ("  otherwise: gdpr", "  otherwise: eu", 34, "unknown jurisdiction 'eu'"),
        # A role and a purpose the policy does not declare.
        ("roles: [marketer]", "roles: [marketeer]", 12, "role 'marketeer'"),
        ("    marketing: {days: 365}", "    mailing: {days: 365}", 22, "purpose 'mailing'"),
        # A processor without the contract that makes it one.
        ("    contract: DPA-2024-03\n", "", 9, "without a contract"),
        # A flow the recipient's kind cannot have: a processor is not sold to.
        ("    kind: processor\n", "    kind: processor\n    flow: sale\n", 9, "flow 'sale'"),
        # Deidentified without CCPA's public commitment and contract terms.
        ("  anonymous: {", "  deidentified: {", 28, "public_commitment"),
        # Periods without a clock to count them from.
        ("  clock: [order_time, signup_date]\n", "", 19, "no clock"),
    ],
)
def test_bad_input_names_the_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, says: str
) -> None:
    text = SECTIONS.format(law="gdpr")
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert says in message


def test_an_unknown_top_level_jurisdiction_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "shopveil_policy: 1\nname: x\njurisdiction: hipaa\n")
    with pytest.raises(PolicyError, match=rf"^{path}:3: jurisdiction: 'hipaa' is not allowed"):
        load_policy(path)


def test_a_section_inherited_from_a_preset_is_reported_at_the_preset() -> None:
    policy = load_policy("pipl")
    assert str(policy.processing.transfers.origin) == "pipl.yaml:16"
    assert policy.processing.transfers.region == "cn"


SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("email", pa.string()),
        ("country", pa.string()),
        ("signup_date", pa.date32()),
        ("residence", pa.string()),
    ]
)
LABELS = {
    "customer_id": (ColumnClass.DIRECT_IDENTIFIER, Kind.CUSTOMER_ID),
    "email": (ColumnClass.DIRECT_IDENTIFIER, Kind.EMAIL),
    "country": (ColumnClass.QUASI_IDENTIFIER, Kind.COUNTRY),
    "signup_date": (ColumnClass.QUASI_IDENTIFIER, Kind.EVENT_TIME),
    "residence": (ColumnClass.QUASI_IDENTIFIER, Kind.COUNTRY),
}


def _bound(tmp_path: Path, law: str = "gdpr", **options: object) -> object:
    policy = load_policy(_write(tmp_path, SECTIONS.format(law=law)))
    plan = compile_plan(policy, SCHEMA, purpose="marketing", role="admin", labels=LABELS)
    return bind_processing(plan, policy, SCHEMA, **options)  # type: ignore[arg-type]


def test_a_sale_recipient_and_its_transfer_are_bound_to_the_plan(tmp_path: Path) -> None:
    plan = _bound(tmp_path, recipient="adnet", as_of=date(2011, 6, 1))
    processing = plan.processing  # type: ignore[attr-defined]
    assert processing.sells_or_shares
    assert processing.transfer.destination == "us"
    # Every law a row may fall under restricts transfers, or does not (CCPA).
    assert dict(processing.transfer.mechanisms) == {Jurisdiction.GDPR: TransferMechanism.GDPR_SCC}
    assert processing.retention.cutoff == date(2010, 6, 1)
    assert processing.retention.columns == {"country": date(2011, 5, 2)}
    record = processing.record()
    assert set(record) >= {"recipients", "transfers", "retention", "release_status"}


def test_a_destination_without_a_route_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match=r"transfer of GDPR data from 'eu' to 'cn' refused"):
        _bound(tmp_path, destination="cn")


def test_a_status_that_keeps_an_identifier_is_refused_before_any_row_moves(
    tmp_path: Path,
) -> None:
    with pytest.raises(PrivacyError, match="customer_id"):
        _bound(tmp_path, status="anonymous")
    with pytest.raises(PolicyError, match="deidentified is CCPA's"):
        policy = load_policy(_write(tmp_path, SECTIONS.format(law="gdpr").replace(
            "    ccpa: [US-CA]\n", "")))  # fmt: skip
        plan = compile_plan(policy, SCHEMA, purpose="marketing", role="admin", labels=LABELS)
        bind_processing(plan, policy, SCHEMA, status="deidentified")


def test_a_residence_column_the_table_lacks_is_refused(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, SECTIONS.format(law="gdpr")))
    schema = SCHEMA.remove(SCHEMA.get_field_index("residence"))
    plan = compile_plan(policy, schema, purpose="marketing", role="admin", labels=LABELS)
    with pytest.raises(SchemaError, match="'residence', which this table lacks"):
        bind_processing(plan, policy, schema)


def test_retention_without_a_clock_column_in_the_table_is_refused(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, SECTIONS.format(law="gdpr")))
    schema = SCHEMA.remove(SCHEMA.get_field_index("signup_date"))
    plan = compile_plan(policy, schema, purpose="marketing", role="admin", labels=LABELS)
    with pytest.raises(SchemaError, match="none of the retention clock columns"):
        bind_processing(plan, policy, schema)


def test_a_transfer_under_no_named_law_is_refused(tmp_path: Path) -> None:
    policy = load_policy(
        _write(
            tmp_path,
            "shopveil_policy: 1\nname: bare\npurposes:\n  analytics: {release_modes: [record]}\n"
            "roles:\n  analyst: {purposes: [analytics], sees: [quasi_identifier]}\n"
            "columns:\n  country: {class: quasi_identifier, technique: keep}\n"
            "transfers:\n  region: eu\n  to:\n    us: {mechanisms: [gdpr.scc]}\n",
        )
    )
    schema = pa.schema([("country", pa.string())])
    plan = compile_plan(policy, schema, purpose="analytics")
    with pytest.raises(AccessDenied, match="names no jurisdiction"):
        bind_processing(plan, policy, schema, destination="us")
    # In its region, the plan says where the output stays.
    stays = bind_processing(plan, policy, schema)
    assert "the output stays in region 'eu'" in " ".join(stays.notes)


def test_explain_lists_recipients_transfers_retention_and_statuses(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, SECTIONS.format(law="pipl")))
    notes = explain_policy(policy, purpose="marketing").notes
    shown = "\n".join(notes)
    assert "recipient adnet: third_party, flow sale" in shown
    assert "opted out of sale and sharing are left out" in shown
    # The residence section maps rows to GDPR and CCPA: GDPR's rule applies, not PIPL's.
    assert "held in region eu" in shown and "(GDPR Art. 44-46, 49)" in shown
    assert "transfers to us: gdpr.scc (GDPR Art. 46(2)(c))" in shown
    assert "retention for marketing: rows older than 365 days" in shown
    assert "status anonymous" in shown and "needs k 20, max risk 0.05" in shown


def test_a_table_under_several_laws_takes_the_strictest_minors_rule() -> None:
    text = (
        "shopveil_policy: 1\nname: shop\nextends: ccpa\nresidence:\n  column: residence\n"
        "  jurisdictions: {ccpa: [US-CA], pipl: [CN], lgpd: [BR]}\n"
    )
    minors = parse_policy(text).minors
    assert minors is not None
    # CCPA keeps unknown ages and only marketing and training; PIPL adds analytics and
    # leaves unknown ages out; CCPA's 16 is the highest age.
    assert minors.age == 16
    assert minors.purposes == {"analytics", "marketing", "model_training"}
    assert minors.unknown_age is UnknownAge.EXCLUDE
    alone = parse_policy("shopveil_policy: 1\nname: shop\nextends: ccpa\n").minors
    assert alone is not None and alone.unknown_age is UnknownAge.INCLUDE
    assert "analytics" not in alone.purposes
