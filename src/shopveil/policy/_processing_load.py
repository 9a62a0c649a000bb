"""Reading a policy's processing sections (recipients, transfers, retention, release
status, residence) into :class:`~shopveil.policy._processing.Processing`.

The JSON Schema checks their shape; this checks what it cannot (a mechanism key no law
has, a role or purpose the policy does not declare, a law ShopVeil has no preset for)
and names the file and line of each problem. Each section keeps the location it was
written at, so a section a policy inherits is reported at its parent's line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopveil.errors import PolicyError
from shopveil.policy._model import Jurisdiction, Origin
from shopveil.policy._processing import (
    Flow,
    Processing,
    Recipient,
    RecipientKind,
    ReleaseStatus,
    Residence,
    Retention,
    StatusRule,
    StoreRetention,
    TransferMechanism,
    TransferRoute,
    Transfers,
)
from shopveil.policy._yaml import Lines
from shopveil.policy._yaml import line_of as _line

__all__ = ["SECTIONS", "annotate_processing", "build_processing"]

SECTIONS = ("recipients", "transfers", "retention", "release_status", "residence")
"""The top-level keys this module reads; a child policy's section replaces its parent's."""

_WHERE = "__where__"
_DEFAULT_FLOW = {
    RecipientKind.FIRST_PARTY: Flow.INTERNAL,
    RecipientKind.PROCESSOR: Flow.ENTRUSTED,
    RecipientKind.THIRD_PARTY: Flow.DISCLOSURE,
}


def annotate_processing(document: dict[str, Any], source: str, lines: Lines) -> None:
    """Tag each section with the file and lines it was read from (before merging)."""
    for section in SECTIONS:
        spec = document.get(section)
        if isinstance(spec, dict):
            spec[_WHERE] = (source, lines)


def build_processing(
    document: Mapping[str, Any],
    *,
    purposes: Mapping[str, object],
    roles: Mapping[str, object],
    origin_of: Any,
) -> Processing:
    """The :class:`Processing` of a merged policy document.

    ``origin_of(source, lines, path)`` turns a location into an :class:`Origin` (presets
    are named by their file); ``purposes`` and ``roles`` are the policy's, to check the
    names the sections use.
    """
    reader = _Reader(origin_of)
    return Processing(
        recipients=reader.recipients(document.get("recipients"), roles),
        transfers=reader.transfers(document.get("transfers")),
        retention=reader.retention(document.get("retention"), purposes),
        store_retention=reader.store_retention(document.get("retention")),
        statuses=reader.statuses(document.get("release_status")),
        residence=reader.residence(document.get("residence")),
    )


class _Reader:
    def __init__(self, origin_of: Any) -> None:
        self._origin_of = origin_of

    def _at(self, spec: Mapping[str, Any], *path: str | int) -> tuple[Origin, str]:
        source, lines = spec[_WHERE]
        origin: Origin = self._origin_of(source, lines, path)
        return origin, f"{source}:{_line(lines, path)}"

    def recipients(
        self, spec: Mapping[str, Any] | None, roles: Mapping[str, object]
    ) -> dict[str, Recipient]:
        if not spec:
            return {}
        found: dict[str, Recipient] = {}
        claimed: dict[str, str] = {}
        for name, entry in spec.items():
            if name == _WHERE:
                continue
            origin = self._at(spec, "recipients", name)[0]
            where = self._at(spec, "recipients", name, "roles")[1]
            for role in entry.get("roles", ()):
                if role not in roles:
                    raise PolicyError(
                        f"{where}: recipient {name!r} names role {role!r}, which the policy "
                        f"does not declare; use one of {', '.join(sorted(roles))}"
                    )
                if role in claimed:
                    raise PolicyError(
                        f"{where}: role {role!r} already goes to recipient {claimed[role]!r}; "
                        "a role's releases go to one recipient, name the other on the release"
                    )
                claimed[role] = name
            kind = RecipientKind(entry["kind"])
            flow = Flow(entry["flow"]) if "flow" in entry else _DEFAULT_FLOW[kind]
            found[name] = Recipient(
                name=name,
                kind=kind,
                flow=flow,
                region=entry.get("region"),
                roles=frozenset(entry.get("roles", ())),
                contract=entry.get("contract"),
                origin=origin,
            )
        return found

    def transfers(self, spec: Mapping[str, Any] | None) -> Transfers:
        if not spec:
            return Transfers()
        routes = {}
        for destination, entry in spec.get("to", {}).items():
            mechanisms = []
            for index, key in enumerate(entry["mechanisms"]):
                where = self._at(spec, "transfers", "to", destination, "mechanisms", index)[1]
                mechanisms.append(_mechanism(key, where))
            routes[destination] = TransferRoute(
                destination,
                tuple(mechanisms),
                entry.get("reference"),
                self._at(spec, "transfers", "to", destination)[0],
            )
        return Transfers(
            region=spec.get("region"),
            datasets=dict(spec.get("datasets", {})),
            routes=routes,
            origin=self._at(spec, "transfers")[0],
        )

    def retention(
        self, spec: Mapping[str, Any] | None, purposes: Mapping[str, object]
    ) -> Retention:
        if not spec:
            return Retention()
        origins = {}
        for purpose in spec.get("purposes", {}):
            origin, where = self._at(spec, "retention", "purposes", purpose)
            if purpose not in purposes:
                raise PolicyError(
                    f"{where}: retention names purpose {purpose!r}, which the policy does "
                    f"not declare; use one of {', '.join(sorted(purposes))}"
                )
            origins[f"purpose:{purpose}"] = origin
        for column in spec.get("columns", {}):
            origins[f"column:{column}"] = self._at(spec, "retention", "columns", column)[0]
        if "default" in spec:
            origins["default"] = self._at(spec, "retention", "default")[0]
        periods = bool(spec.get("purposes") or spec.get("columns") or "default" in spec)
        if periods and not spec.get("clock"):
            where = self._at(spec, "retention")[1]
            raise PolicyError(
                f"{where}: retention sets periods but no clock; add 'clock: [COLUMN, ...]', "
                "the date columns a row's age is counted from (e.g. order_time, signup_date)"
            )
        if "clock" in spec:
            origins["clock"] = self._at(spec, "retention", "clock")[0]
        default = spec.get("default")
        return Retention(
            clock=tuple(spec.get("clock", ())),
            purposes={p: v["days"] for p, v in spec.get("purposes", {}).items()},
            columns={c: v["days"] for c, v in spec.get("columns", {}).items()},
            default=default["days"] if default else None,
            origins=origins,
        )

    def store_retention(self, spec: Mapping[str, Any] | None) -> StoreRetention:
        store = {key: value["days"] for key, value in (spec or {}).get("store", {}).items()}
        return StoreRetention(
            consent_history=store.get("consent_history"),
            erased_subjects=store.get("erased_subjects"),
        )

    def statuses(self, spec: Mapping[str, Any] | None) -> dict[ReleaseStatus, StatusRule]:
        if not spec:
            return {}
        found = {}
        for name, entry in spec.items():
            if name == _WHERE:
                continue
            status = ReleaseStatus(name)
            origin, where = self._at(spec, "release_status", name)
            if "k" not in entry and "max_risk" not in entry:
                raise PolicyError(
                    f"{where}: release_status.{name} sets no check; add k and max_risk (a "
                    "release that claims it must pass them)"
                )
            if status is ReleaseStatus.DEIDENTIFIED:
                for key in ("public_commitment", "contract_terms"):
                    if key not in entry:
                        raise PolicyError(
                            f"{where}: release_status.deidentified needs {key!r}: CCPA "
                            "1798.140(m) asks for a public commitment not to re-identify and "
                            "contract terms that bind recipients; give where each is written"
                        )
            found[status] = StatusRule(
                status=status,
                k=entry.get("k"),
                max_risk=entry.get("max_risk"),
                epsilon_cap=entry.get("epsilon_cap"),
                public_commitment=entry.get("public_commitment"),
                contract_terms=entry.get("contract_terms"),
                origin=origin,
            )
        return found

    def residence(self, spec: Mapping[str, Any] | None) -> Residence | None:
        if not spec:
            return None
        laws: dict[str, Jurisdiction] = {}
        for law, values in spec["jurisdictions"].items():
            where = self._at(spec, "residence", "jurisdictions", law)[1]
            jurisdiction = _jurisdiction(law, where)
            for value in values:
                key = str(value).strip().lower()
                if key in laws and laws[key] is not jurisdiction:
                    raise PolicyError(
                        f"{where}: residence {value!r} is mapped to {laws[key].value} and "
                        f"{law}; map each residence to one law"
                    )
                laws[key] = jurisdiction
        otherwise = None
        if "otherwise" in spec:
            where = self._at(spec, "residence", "otherwise")[1]
            otherwise = _jurisdiction(spec["otherwise"], where)
        return Residence(spec["column"], laws, otherwise, self._at(spec, "residence")[0])


def _jurisdiction(value: str, where: str) -> Jurisdiction:
    try:
        return Jurisdiction(value)
    except ValueError:
        choices = ", ".join(j.value for j in Jurisdiction)
        raise PolicyError(
            f"{where}: unknown jurisdiction {value!r}; use one of {choices}"
        ) from None


def _mechanism(key: str, where: str) -> TransferMechanism:
    try:
        return TransferMechanism(key)
    except ValueError:
        law = key.split(".", 1)[0]
        same_law = [m.value for m in TransferMechanism if m.law == law]
        choices = same_law or [m.value for m in TransferMechanism]
        raise PolicyError(
            f"{where}: unknown transfer mechanism {key!r}; use one of {', '.join(choices)}"
        ) from None
