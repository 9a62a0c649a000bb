"""Whose rows one release may hold: every consent check of the release, per law.

A release is checked against the register for its own purpose; a sale or a share also
against the customers' opt-out of sale and sharing (a Global Privacy Control signal
included); a transfer under PIPL (and a transfer that rests on consent under GDPR or
LGPD) also against each customer's consent to it; special-category columns kept on
consent (``sensitive_data_consent``) against each customer's consent to those; and, by a
table of the customers' ages, whether the customer is a minor the release leaves out.
With a residence column, each row's consent is checked under the law of the customer's
residence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.subjects import SubjectFilter
from shopveil.errors import SchemaError
from shopveil.governance import ConsentFilter, ConsentPurpose
from shopveil.policy import Jurisdiction, Residence

__all__ = ["ReleaseConsent"]


@dataclass(frozen=True, eq=False)
class ReleaseConsent:
    """Every consent check one release makes; a customer's rows go out only if all pass.

    Implements :class:`shopveil._core.subjects.SubjectFilter` (then the checks of every
    law apply to each id, the strictest reading); :meth:`allowed_rows` applies each row's
    own law when the release has a residence column.

    Attributes
    ----------
    by_law
        Per law (None: no law named), the register's filters a customer must pass.
    residence
        The residence column that chooses each row's law; None: one law for all rows.
    minors
        Who is no minor left out, by a table of the customers' ages
        (:class:`shopveil.governance.PeopleAges`); None when the table's own age column
        decides, or the purpose keeps minors.
    """

    by_law: Mapping[Jurisdiction | None, tuple[ConsentFilter, ...]]
    residence: Residence | None = None
    minors: SubjectFilter | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_law", MappingProxyType(dict(self.by_law)))

    @property
    def filters(self) -> tuple[ConsentFilter, ...]:
        """Every filter of every law."""
        return tuple(f for filters in self.by_law.values() for f in filters)

    @property
    def limits(self) -> bool:
        """Whether any check can leave a customer out (contract purposes cannot)."""
        return any(f.basis is not None for f in self.filters)

    @property
    def requires_grant(self) -> bool:
        """True when some consent check needs a recorded grant."""
        return any(f.requires_grant for f in self.filters)

    def allowed(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """One bool per id: True where every check of every law allows the customer, and
        the customer is no minor left out."""
        keep = np.ones(len(ids), dtype=bool)
        for check in self.filters:
            keep &= check.allowed(ids)
        if self.minors is not None:
            keep &= self.minors.allowed(ids)
        return keep

    def allowed_rows(self, batch: pa.RecordBatch, id_columns: Sequence[str]) -> np.ndarray:
        """One bool per row: True where the row's law lets every id column's customer in.

        Raises :class:`SchemaError` for a row whose residence no law is mapped to (and no
        ``otherwise`` law): which law protects that customer cannot be told.
        """
        keep = np.ones(batch.num_rows, dtype=bool)
        if self.residence is None:
            for column in id_columns:
                keep &= self.allowed(batch.column(column))
            return keep
        laws = _row_laws(self.residence, batch.column(self.residence.column))
        for law, filters in self.by_law.items():
            rows = np.flatnonzero(laws == (law.value if law else ""))
            if not rows.size:
                continue
            taken = pa.array(rows)
            for column in id_columns:
                ids = batch.column(column).take(taken)
                for check in filters:
                    keep[rows] &= check.allowed(ids)
        if self.minors is not None:
            for column in id_columns:
                keep &= self.minors.allowed(batch.column(column))
        return keep

    def describe(self, *, sensitive: bool = False) -> str:
        """The checks in words, per law, for notes and the audit log: those of the
        release's purpose, or (``sensitive``) those for the special categories it keeps."""
        parts = [
            f.describe()
            for f in self.filters
            if f.basis is not None and _is_sensitive(f) == sensitive
        ]
        return "; ".join(dict.fromkeys(parts))

    def details(self) -> dict[str, Any]:
        """What the audit event says about the consent check: the release purpose's
        consent purpose, law and basis (the first law's), and every check made."""
        if not self.filters:  # ages alone: no consent check was made
            return {}
        found = _basis(self.filters[0])
        sensitive = [f for f in self.filters if _is_sensitive(f)]
        if sensitive:
            found["sensitive_data"] = _basis(sensitive[0])
        if len(self.filters) > 1:
            found["checks"] = self.legal_bases()
        return found

    def legal_bases(self) -> list[dict[str, Any]]:
        """Every legal basis the release rests on, per law (records of processing)."""
        found = []
        for law, filters in self.by_law.items():
            for check in filters:
                basis = check.basis
                found.append(
                    {
                        "jurisdiction": law.value if law else None,
                        "purpose": check.purpose,
                        "consent_purpose": basis.purpose.value if basis else None,
                        "basis": basis.basis.value if basis else "contract",
                        "articles": basis.articles if basis else _CONTRACT_ARTICLES,
                    }
                )
        return found


def _is_sensitive(check: ConsentFilter) -> bool:
    """Whether ``check`` is the consent for special categories, not the purpose's own."""
    return check.basis is not None and check.basis.purpose is ConsentPurpose.SENSITIVE_DATA


def _basis(check: ConsentFilter) -> dict[str, Any]:
    basis = check.basis
    return {
        "purpose": basis.purpose.value if basis else None,
        "jurisdiction": basis.jurisdiction.value if basis and basis.jurisdiction else None,
        "basis": basis.basis.value if basis else "contract",
    }


def _row_laws(residence: Residence, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each row's law, by its residence value; SchemaError for one no law is mapped to."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))
    keys = list(residence.laws)
    laws = np.array([residence.laws[k].value for k in keys] + [""], dtype=object)
    index = pc.index_in(text, value_set=pa.array(keys, pa.string()))
    found = np.asarray(pc.fill_null(index, len(keys)).to_numpy(zero_copy_only=False))
    row_laws = laws[found]
    unmapped = found == len(keys)
    if unmapped.any():
        if residence.otherwise is None:
            raise SchemaError(
                f"{int(unmapped.sum())} row(s) have a residence in column "
                f"{residence.column!r} that no law is mapped to (or none); map it under "
                f"residence.jurisdictions at {residence.origin} or set "
                "residence.otherwise; nothing was written"
            )
        row_laws[unmapped] = residence.otherwise.value
    return row_laws


_CONTRACT_ARTICLES = "GDPR Art. 6(1)(b); LGPD Art. 7 V; PIPL Art. 13(2); CCPA 1798.105(d)(1)"
