"""Binding a compiled :class:`~shopveil.policy.Plan` to the processing around it.

:func:`bind_processing` decides, before any row moves, who receives the release and by
which flow, whether it is a transfer out of the data's region and by which mechanism,
which rows and values are past their retention period, which law governs each row, and
what the output legally is; it refuses what the policy does not allow (an unknown
recipient, a transfer without a mechanism, a status whose checks cannot hold). The
result travels in the plan as :class:`PlanProcessing`, which the pipeline enforces row
by row and writes into the audit event and the release's manifest.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pyarrow as pa

from shopveil._core.classes import ColumnClass
from shopveil.anonymity import KAnonymity, MaxRisk, Requirement
from shopveil.errors import AccessDenied, ParameterError, PolicyError, PrivacyError, SchemaError
from shopveil.policy._compile import Plan, PlanGate, _hides_value, releases_personal_data
from shopveil.policy._minors import MinorCheck, minor_check
from shopveil.policy._model import Jurisdiction, Policy
from shopveil.policy._processing import (
    STATUS_ARTICLES,
    TRANSFER_ARTICLES,
    Flow,
    Recipient,
    ReleaseStatus,
    StatusRule,
    TransferMechanism,
)
from shopveil.policy._processing_bound import PlanProcessing, PlanRetention, PlanTransfer

__all__ = ["bind_processing"]


def bind_processing(
    plan: Plan,
    policy: Policy,
    schema: pa.Schema,
    *,
    recipient: str | None = None,
    destination: str | None = None,
    status: ReleaseStatus | str | None = None,
    dataset: str | None = None,
    as_of: date | None = None,
) -> Plan:
    """``plan`` with its :class:`PlanProcessing` set, checked against ``policy``.

    Parameters
    ----------
    recipient
        A recipient the policy declares under ``recipients``; by default the one the
        plan's role goes to, else the first party itself.
    destination
        The region the output goes to; by default the recipient's region, else the
        data's own (no transfer).
    status
        The status the release claims (``pseudonymized``, ``deidentified``,
        ``anonymous``); refused unless its checks hold. Without one, the output is
        recorded as pseudonymized or personal, by what its direct identifiers show.
    dataset
        The dataset's name (its file stem), for a region the policy gives one dataset.
    as_of
        The day retention periods are counted back from; today by default.

    Raises
    ------
    PolicyError
        An unknown recipient or a status the policy sets no checks for.
    AccessDenied
        A transfer without a mechanism for every law its rows fall under.
    PrivacyError
        A claimed status the released columns cannot have (a direct identifier kept).
    SchemaError
        A retention period with no clock column in the table, or a residence column
        the table lacks.
    """
    processing = policy.processing
    chosen = _recipient(policy, plan, recipient)
    residence = processing.residence
    if residence is not None and residence.column not in schema.names:
        raise SchemaError(
            f"{residence.origin}: the policy chooses each row's law by column "
            f"{residence.column!r}, which this table lacks; add the customer's residence "
            "to it (join it from the customers table) before releasing"
        )
    laws: tuple[Jurisdiction | None, ...] = (
        tuple(sorted(residence.jurisdictions)) if residence else (policy.jurisdiction,)
    )
    origin = processing.transfers.region_of(dataset)
    target = destination or (chosen.region if chosen else None)
    transfer = _transfer(policy, laws, origin, target)
    claimed, rule = _status(policy, plan, laws, status)
    gate = _status_gate(plan, rule)
    bound = PlanProcessing(
        recipient=chosen,
        region=origin,
        flow=chosen.flow if chosen else Flow.INTERNAL,
        jurisdictions=laws,
        residence=residence,
        transfer=transfer,
        retention=_retention(policy, plan, schema, as_of or date.today()),
        status=claimed,
        status_rule=rule,
    )
    notes = (*plan.notes, *_notes(bound))
    minors = plan.minors
    if bound.sells_or_shares and minors is None:
        minors = _minors_of_a_sale(policy, plan, as_of or date.today())
    return dataclasses.replace(plan, processing=bound, gate=gate, notes=notes, minors=minors)


def _minors_of_a_sale(policy: Policy, plan: Plan, as_of: date) -> MinorCheck | None:
    """A sale or share leaves minors out whatever its purpose (CCPA 1798.120(c): no sale
    of a consumer under 16 without an opt-in; the presets' ``guardian_consent``)."""
    if policy.minors is None or not releases_personal_data(plan.steps):
        return None
    selling = dataclasses.replace(policy.minors, purposes=policy.minors.purposes | {plan.purpose})
    kinds = {step.column: step.kind for step in plan.steps}
    return minor_check(selling, plan.purpose, kinds, as_of)


def _recipient(policy: Policy, plan: Plan, name: str | None) -> Recipient | None:
    recipients = policy.processing.recipients
    if name is None:
        return policy.processing.recipient_for_role(plan.role)
    if name not in recipients:
        declared = ", ".join(sorted(recipients)) or "none: declare it under 'recipients'"
        raise PolicyError(
            f"{policy.source}: unknown recipient {name!r}; the policy declares: {declared}"
        )
    return recipients[name]


def _transfer(
    policy: Policy,
    laws: tuple[Jurisdiction | None, ...],
    origin: str | None,
    destination: str | None,
) -> PlanTransfer | None:
    if destination is None or destination == origin:
        return None
    if origin is None:
        raise AccessDenied(
            f"the release goes to region {destination!r} but policy {policy.name!r} does not "
            "say where the data is, so whether this is a transfer cannot be told; declare "
            "'transfers: {region: REGION}' (or transfers.datasets for this dataset)"
        )
    route = policy.processing.transfers.routes.get(destination)
    mechanisms: dict[Jurisdiction, TransferMechanism] = {}
    consent: set[Jurisdiction] = set()
    for law in laws:
        if law is None:
            raise AccessDenied(
                f"the release goes from {origin!r} to {destination!r} but policy "
                f"{policy.name!r} names no jurisdiction, so which transfer rule applies "
                "cannot be told; set 'jurisdiction' (or 'residence') in the policy"
            )
        if law.value not in TRANSFER_ARTICLES:
            continue  # CCPA restricts no transfer
        found = route.for_law(law.value) if route is not None else None
        if found is None:
            choices = ", ".join(m.value for m in TransferMechanism if m.law == law.value)
            raise AccessDenied(
                f"transfer of {law.value.upper()} data from {origin!r} to {destination!r} "
                f"refused: no transfer mechanism is in place ({TRANSFER_ARTICLES[law.value]}); "
                f"declare one under transfers.to.{destination}.mechanisms ({choices}) with "
                "its reference, or keep the release in its region"
            )
        mechanisms[law] = found
        if law is Jurisdiction.PIPL or found.needs_consent:
            consent.add(law)
    return PlanTransfer(origin, destination, mechanisms, route, frozenset(consent))


def _status(
    policy: Policy,
    plan: Plan,
    laws: tuple[Jurisdiction | None, ...],
    status: ReleaseStatus | str | None,
) -> tuple[ReleaseStatus, StatusRule | None]:
    shown = [
        s.column
        for s in plan.steps
        if s.column_class is ColumnClass.DIRECT_IDENTIFIER and not _hides_value(s.operator)
    ]
    released = [
        s.column
        for s in plan.steps
        if s.column_class is ColumnClass.DIRECT_IDENTIFIER and not s.dropped
    ]
    if status is None:
        return (ReleaseStatus.PERSONAL if shown else ReleaseStatus.PSEUDONYMIZED), None
    try:
        claimed = ReleaseStatus(status)
    except ValueError:
        choices = ", ".join(s.value for s in ReleaseStatus if s is not ReleaseStatus.PERSONAL)
        raise ParameterError(f"status: unknown status {status!r}; use one of {choices}") from None
    articles = STATUS_ARTICLES[claimed]
    if claimed is ReleaseStatus.PERSONAL:
        return claimed, None
    if claimed is ReleaseStatus.DEIDENTIFIED and Jurisdiction.CCPA not in laws:
        raise PolicyError(
            f"{policy.source}: status deidentified is CCPA's (1798.140(m)) and this release "
            f"falls under {', '.join(j.value if j else 'no law' for j in laws)}; claim "
            "pseudonymized or anonymous"
        )
    if shown:
        raise PrivacyError(
            f"the release claims status {claimed.value} ({articles}) but keeps direct "
            f"identifier {shown[0]!r} readable; drop or tokenize it, or claim no status"
        )
    if claimed is ReleaseStatus.PSEUDONYMIZED:
        return claimed, None
    rule = policy.processing.statuses.get(claimed)
    if rule is None:
        raise PolicyError(
            f"{policy.source}: the release claims status {claimed.value} but the policy sets "
            f"no checks for it; add release_status.{claimed.value} with k and max_risk"
            + (", public_commitment and contract_terms" if claimed.value == "deidentified" else "")
        )
    if released:
        raise PrivacyError(
            f"the release claims status {claimed.value} ({articles}) but releases direct "
            f"identifier {released[0]!r} (as {plan.step(released[0]).technique}): a keyed "
            "token still links each row to one person, which is pseudonymized data; drop "
            "it or claim pseudonymized"
        )
    return claimed, rule


def _status_gate(plan: Plan, rule: StatusRule | None) -> PlanGate | None:
    """The plan's gate with the status's k and risk checks added on the released
    quasi-identifiers; the gate fails the release (nothing written) when they do not hold."""
    if rule is None:
        return plan.gate
    added: list[Requirement] = []
    if rule.k is not None:
        added.append(KAnonymity(rule.k))
    if rule.max_risk is not None:
        added.append(MaxRisk(rule.max_risk))
    qi = tuple(
        s.column
        for s in plan.steps
        if not s.dropped and s.column_class is ColumnClass.QUASI_IDENTIFIER
    )
    if plan.gate is None:
        return PlanGate(qi, (), tuple(added))
    known = plan.gate.quasi_identifiers
    merged = (*known, *(c for c in qi if c not in known))
    return PlanGate(merged, plan.gate.sensitive, (*plan.gate.requirements, *added))


def _retention(policy: Policy, plan: Plan, schema: pa.Schema, as_of: date) -> PlanRetention | None:
    retention = policy.processing.retention
    days = retention.days_for(plan.purpose)
    columns = {
        s.column: retention.columns[s.column]
        for s in plan.steps
        if s.column in retention.columns and not s.dropped
    }
    if days is None and not columns:
        return None
    clock = next((c for c in retention.clock if c in schema.names), None)
    if clock is None:
        where = retention.origins.get("clock") or policy.source
        raise SchemaError(
            f"{where}: purpose {plan.purpose!r} keeps data "
            + (f"{days} days" if days is not None else f"of column {next(iter(columns))!r}")
            + f" but this table has none of the retention clock columns "
            f"({', '.join(retention.clock)}), so a row's age cannot be told; add the "
            "table's date column to retention.clock"
        )
    return PlanRetention(
        clock=clock,
        days=days,
        cutoff=as_of - timedelta(days=days) if days is not None else None,
        columns={c: as_of - timedelta(days=d) for c, d in columns.items()},
        column_days=columns,
    )


def _notes(bound: PlanProcessing) -> list[str]:
    notes = []
    if bound.sells_or_shares:
        notes.append(
            f"flow {bound.flow.value} to {bound.recipient.name if bound.recipient else '?'}: "
            "customers who opted out of sale and sharing (a Global Privacy Control signal "
            "included) are left out"
        )
    if bound.residence is not None:
        notes.append(
            f"each row's law is chosen by column {bound.residence.column!r}: "
            + ", ".join(j.value for j in bound.jurisdictions if j)
        )
    if bound.transfer is not None:
        used = (
            ", ".join(f"{m.value} ({m.article})" for m in bound.transfer.mechanisms.values())
            or "no law restricts it"
        )
        notes.append(
            f"transfer from {bound.transfer.origin!r} to {bound.transfer.destination!r}: {used}"
        )
    elif bound.region is not None:
        notes.append(
            f"the output stays in region {bound.region!r}; a release to another region "
            "needs a transfer mechanism under transfers.to"
        )
    if bound.retention is not None and bound.retention.cutoff is not None:
        notes.append(
            f"rows dated before {bound.retention.cutoff.isoformat()} by "
            f"{bound.retention.clock!r} are past retention and left out"
        )
    notes.append(f"release status: {bound.status.value} ({STATUS_ARTICLES[bound.status]})")
    return notes
