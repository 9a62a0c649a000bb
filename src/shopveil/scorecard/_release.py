"""The scorecard of a released table: k, l, t and risks next to what the release lost."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil.anonymity import Assessment, assess
from shopveil.attacks import LinkageConfig, LinkageResult, linkage_attack
from shopveil.audit import AuditLog
from shopveil.data import read_table
from shopveil.errors import ParameterError, SourceError
from shopveil.scorecard._refs import LedgerRefs, ledger_refs

__all__ = ["ReleaseScorecard", "information_loss", "release_scorecard"]

_SUPPRESSED = ("*", "")


@dataclass(frozen=True)
class ReleaseScorecard:
    """Privacy and utility of one release.

    Attributes
    ----------
    release
        The file's name.
    qi, sensitive
        The quasi-identifiers and sensitive attributes assessed.
    assessment
        k, l, t and the re-identification risks (:func:`shopveil.anonymity.assess`).
    linkage
        The linkage attack's result where the original and the outsider's columns were
        given, else None.
    ncp, ncp_by_attribute
        Information loss against the original (0: unchanged, 1: all suppressed), None
        without the original.
    manifest
        The release manifest written beside the file (``FILE.release.json``), if any.
    ledger
        ε charged to the release's dataset and the audit events behind it.
    risk_ceiling
        The highest prosecutor risk the verdict accepts.
    """

    release: str
    qi: tuple[str, ...]
    sensitive: tuple[str, ...]
    assessment: Assessment
    linkage: LinkageResult | None
    ncp: float | None
    ncp_by_attribute: Mapping[str, float]
    manifest: Mapping[str, Any] | None
    ledger: LedgerRefs
    risk_ceiling: float = 0.2
    audit_seqs: tuple[int, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """True when the highest re-identification risk is within the ceiling."""
        return self.assessment.prosecutor_risk <= self.risk_ceiling + 1e-12

    @property
    def verdict(self) -> str:
        """One line: within the ceiling or not, with the figures that decide it."""
        a = self.assessment
        head = "PASS" if self.passed else "AT RISK"
        line = (
            f"{head}: k = {a.k}, highest re-identification risk {a.prosecutor_risk:.1%} "
            f"(ceiling {self.risk_ceiling:.0%})"
        )
        if self.linkage is not None:
            line += f", {self.linkage.reidentified:.1%} re-identified by linkage"
        if self.ncp is not None:
            line += f", information loss (NCP) {self.ncp:.3f}"
        return line

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the verdict first, then privacy, utility and references."""
        a = self.assessment
        return {
            "kind": "release",
            "release": self.release,
            "verdict": self.verdict,
            "passed": self.passed,
            "privacy": {
                "k": a.k,
                "l": a.l,
                "t": a.t,
                "prosecutor_risk": a.prosecutor_risk,
                "average_prosecutor_risk": a.prosecutor.average,
                "journalist_risk": a.journalist_risk,
                "marketer_risk": a.marketer_risk,
                "records_at_risk": a.prosecutor.records_at_risk,
                "linkage_reidentified": None if self.linkage is None else self.linkage.reidentified,
                "epsilon_spent": self.ledger.epsilon_spent,
            },
            "utility": {"ncp": self.ncp, "ncp_by_attribute": dict(self.ncp_by_attribute)},
            "qi": list(self.qi),
            "sensitive": list(self.sensitive),
            "rows": a.rows,
            "audit_seqs": list(self.audit_seqs),
            "ledger": {
                "dataset": self.ledger.dataset,
                "charge_seqs": list(self.ledger.charge_seqs),
            },
            "records_of_processing": (self.manifest or {}).get("records_of_processing"),
            "risk_ceiling": self.risk_ceiling,
        }


def information_loss(original: pa.Table, release: pa.Table, qi: Sequence[str]) -> dict[str, float]:
    """Normalized certainty penalty of each quasi-identifier, from the rows themselves.

    Row ``i`` of ``release`` is row ``i`` of ``original`` made coarser. A released value
    covers the original values of the rows that show it: for a number the penalty is the
    width of that span over the column's range, for a category the share of the other
    categories it covers; a suppressed value (``*``, empty, null) costs 1.
    """
    if original.num_rows != release.num_rows:
        raise ParameterError(
            f"--original has {original.num_rows} rows, the release {release.num_rows}: "
            "information loss needs the original in the release's row order"
        )
    losses = {}
    for name in qi:
        if name not in original.column_names:
            raise ParameterError(f"--qi {name}: not a column of --original")
        col = original.column(name)
        numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        frame = pl.DataFrame(
            {
                "o": pl.from_arrow(col.cast(pa.float64()) if numeric else col.cast(pa.string())),
                "r": pl.from_arrow(release.column(name).cast(pa.string())),
            }
        )
        suppressed = frame["r"].is_null() | frame["r"].is_in(list(_SUPPRESSED))
        if numeric:
            values = frame["o"].drop_nulls().to_numpy()
            span = float(values.max() - values.min()) if len(values) else 0.0
            span = span or 1.0
            spread = (pl.col("o").max() - pl.col("o").min()).over("r") / span
        else:
            domain = max(frame["o"].n_unique() - 1, 1)
            spread = (pl.col("o").n_unique() - 1).over("r") / domain
        loss = np.where(
            suppressed.to_numpy(), 1.0, frame.select(spread.fill_null(1.0))[:, 0].to_numpy()
        )
        losses[name] = float(loss.mean()) if len(loss) else 0.0
    return losses


def read_manifest(release: Path) -> dict[str, Any] | None:
    """The manifest written beside ``release`` (``FILE.release.json``), or None."""
    path = release.with_name(release.name + ".release.json")
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(f"{path}: not a readable release manifest ({exc})") from None
    return manifest if isinstance(manifest, dict) else None


def release_scorecard(
    release: str | os.PathLike[str],
    *,
    qi: Sequence[str] = (),
    sensitive: Sequence[str] = (),
    original: str | os.PathLike[str] | pa.Table | None = None,
    aux: Sequence[str] = (),
    customer: str | None = None,
    audit: AuditLog | None = None,
    dataset: str | None = None,
    risk_ceiling: float = 0.2,
) -> ReleaseScorecard:
    """Score ``release``: its k, l, t, risks, linkage rate, information loss and ε spent.

    The quasi-identifiers are ``qi``, else those the release's audit event names (a
    k-anonymous release records them); a release with neither is refused. ``aux`` (the
    columns an outsider knows) and ``original`` (a file or an Arrow table) run the
    linkage attack.
    """
    path = Path(release)
    if not path.exists():
        raise SourceError(f"--release {path}: no such file")
    manifest = read_manifest(path)
    seqs: list[int] = []
    event_qi: list[str] = []
    if manifest is not None and isinstance(manifest.get("audit_seq"), int):
        seqs.append(manifest["audit_seq"])
        if audit is not None:
            for event in audit.events(action="anonymize.run"):
                if event.seq == manifest["audit_seq"]:
                    event_qi = list(
                        event.details.get("table_release", {}).get("quasi_identifiers", [])
                    )
    qi = tuple(qi) or tuple(event_qi)
    if not qi:
        raise ParameterError(
            f"{path.name} has no quasi-identifiers declared: give them with --qi A,B,C "
            "(neither the command line nor the release's audit event names any)"
        )
    table = read_table(path)
    missing = [name for name in (*qi, *sensitive) if name not in table.column_names]
    if missing:
        raise ParameterError(f"--qi/--sensitive {', '.join(missing)}: not columns of {path.name}")
    assessment = assess(table, qi, sensitive, risk_threshold=risk_ceiling)
    linkage = None
    ncp_by: dict[str, float] = {}
    if original is not None:
        if not isinstance(original, pa.Table) and not Path(original).exists():
            raise SourceError(f"--original {original}: no such file")
        source = original if isinstance(original, pa.Table) else read_table(original)
        ncp_by = information_loss(source, table, qi)
        if aux:
            linkage = linkage_attack(source, table, LinkageConfig(tuple(aux), customer))
    elif aux:
        raise ParameterError("--aux needs --original: the attack links the original's rows")
    refs = ledger_refs(audit, dataset)
    return ReleaseScorecard(
        release=path.name,
        qi=qi,
        sensitive=tuple(sensitive),
        assessment=assessment,
        linkage=linkage,
        ncp=sum(ncp_by.values()) / len(ncp_by) if ncp_by else None,
        ncp_by_attribute=ncp_by,
        manifest=manifest,
        ledger=refs,
        risk_ceiling=risk_ceiling,
        audit_seqs=tuple(seqs) + refs.charge_seqs,
    )
