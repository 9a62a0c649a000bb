"""The lines ``shopveil policy explain`` prints about a policy's processing sections:
recipients and flows, the data's region and transfer routes, retention, the release
statuses it sets checks for, and the residence column."""

from __future__ import annotations

from shopveil.policy._model import Policy
from shopveil.policy._processing import STATUS_ARTICLES, TRANSFER_ARTICLES

__all__ = ["processing_notes"]


def processing_notes(policy: Policy, purpose: str | None) -> list[str]:
    """One line per declaration of ``policy``'s processing sections, each with where it
    was declared; ``purpose`` narrows retention to that purpose."""
    processing = policy.processing
    notes = []
    for recipient in processing.recipients.values():
        roles = f", for role(s) {', '.join(sorted(recipient.roles))}" if recipient.roles else ""
        contract = f" under contract {recipient.contract}" if recipient.contract else ""
        notes.append(
            f"recipient {recipient.name}: {recipient.kind.value}, flow {recipient.flow.value}"
            f"{contract}{roles}"
            + (f", in region {recipient.region}" if recipient.region else "")
            + (
                "; customers who opted out of sale and sharing are left out"
                if recipient.flow.sells_or_shares
                else ""
            )
            + f" ({recipient.origin})"
        )
    transfers = processing.transfers
    if transfers.region is not None:
        residence = processing.residence
        named = residence.jurisdictions if residence else {policy.jurisdiction}
        rules = [TRANSFER_ARTICLES[j.value] for j in named if j and j.value in TRANSFER_ARTICLES]
        needs = f"a transfer mechanism ({'; '.join(sorted(rules))})" if rules else "no mechanism"
        notes.append(
            f"the data is held in region {transfers.region} ({transfers.origin}); a release "
            f"to another region needs {needs}"
        )
    for route in transfers.routes.values():
        used = ", ".join(f"{m.value} ({m.article})" for m in route.mechanisms)
        reference = f", reference {route.reference}" if route.reference else ""
        notes.append(f"transfers to {route.destination}: {used}{reference} ({route.origin})")
    retention = processing.retention
    periods = {
        name: days
        for name, days in retention.purposes.items()
        if purpose is None or name == purpose
    }
    for name, days in periods.items():
        notes.append(
            f"retention for {name}: rows older than {days} days by "
            f"{' or '.join(retention.clock)} are left out ({retention.origins[f'purpose:{name}']})"
        )
    for column, days in retention.columns.items():
        notes.append(f"retention of column {column!r}: {days} days, then released as null")
    for status, rule in processing.statuses.items():
        checks = ", ".join(
            f"{key} {value}"
            for key, value in (
                ("k", rule.k),
                ("max risk", rule.max_risk),
                ("epsilon cap", rule.epsilon_cap),
            )
            if value is not None
        )
        notes.append(
            f"status {status.value} ({STATUS_ARTICLES[status]}) needs {checks} ({rule.origin})"
        )
    if processing.residence is not None:
        residence = processing.residence
        laws = ", ".join(sorted(j.value for j in residence.jurisdictions))
        notes.append(
            f"each row's law is chosen by column {residence.column!r} ({laws}; "
            f"otherwise {residence.otherwise.value if residence.otherwise else 'refused'}) "
            f"({residence.origin})"
        )
    return notes
