"""The register's answer for one purpose: whose rows a release, query or fit may read.

Subjects are matched by a keyed HMAC of their canonical id (:func:`subject_refs`), the
form the register stores, so every spelling of an id (``17850``, ``"17850.0"``,
``" 17850"``) meets the same record.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.prf import hmac_sha256_array
from shopveil._core.subjects import SubjectFilter, canonical_id, canonical_ids
from shopveil.governance._bases import LegalBasis

__all__ = ["AllOf", "ConsentFilter", "subject_ref", "subject_refs"]

REF_BYTES = 32
_EMPTY = np.array([], dtype=f"S{REF_BYTES}")


def subject_ref(key: bytes, customer: object) -> bytes:
    """The register's key for one customer: HMAC-SHA-256 of their canonical id."""
    return hmac.digest(key, canonical_id(customer).encode("utf-8"), "sha256")


def subject_refs(key: bytes, ids: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Per id, its reference (``S32``) and whether it is an id at all (nulls are not)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    canonical = canonical_ids(ids)
    macs = hmac_sha256_array(key, canonical)
    refs = np.ascontiguousarray(macs).view(f"S{REF_BYTES}").ravel()
    valid = np.asarray(pc.is_valid(canonical).to_numpy(zero_copy_only=False), dtype=bool)
    return refs, valid


@dataclass(frozen=True, eq=False)
class ConsentFilter:
    """Which customers one purpose may use, from the register's latest records.

    Implements :class:`shopveil._core.subjects.SubjectFilter`. Build one with
    :meth:`shopveil.governance.ConsentRegister.filter`.

    Attributes
    ----------
    purpose
        The release purpose asked for.
    basis
        The law's row for it; None for a purpose that performs the customer's contract,
        which records do not limit.
    excluded, granted
        Sorted references of customers whose latest record refuses (or withdraws) the
        purpose, or one it also honours, and of those whose latest record grants it.
    """

    purpose: str
    basis: LegalBasis | None
    key: bytes = field(repr=False)
    excluded: np.ndarray = field(default_factory=lambda: _EMPTY, repr=False)
    granted: np.ndarray = field(default_factory=lambda: _EMPTY, repr=False)

    @property
    def requires_grant(self) -> bool:
        """Whether a customer needs a recorded grant (no record means no)."""
        return self.basis is not None and self.basis.requires_grant

    def allowed(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """One bool per id: True where the customer's rows may be used for the purpose.

        A null, empty or unreadable id is no one: allowed only where no grant is needed.
        """
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if self.basis is None or (not self.requires_grant and not self.excluded.size):
            # No record limits the purpose, or no one objected to it: every row stays,
            # and no id needs hashing.
            return np.ones(len(ids), dtype=bool)
        # Each distinct id is hashed once: a batch repeats its customers many times.
        encoded = pc.dictionary_encode(ids)
        refs, valid = subject_refs(self.key, encoded.dictionary)
        ok = ~_member(refs, self.excluded)
        if self.requires_grant:
            ok &= _member(refs, self.granted)
        # An id that is no one's (empty, fractional) counts as a missing id.
        ok = np.where(valid, ok, not self.requires_grant)
        indices = encoded.indices
        present = np.asarray(pc.is_valid(indices).to_numpy(zero_copy_only=False), dtype=bool)
        out = np.full(len(ids), not self.requires_grant, dtype=bool)
        if ok.size:
            at = np.asarray(indices.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            out[present] = ok[at[present]]
        return out

    def describe(self) -> str:
        """The rule this filter applies, in words, for notes and the audit log."""
        if self.basis is None:
            return (
                f"purpose {self.purpose!r} performs the customer's contract: consent "
                "records do not limit it"
            )
        return self.basis.describe()


def _member(refs: np.ndarray, sorted_refs: np.ndarray) -> np.ndarray:
    """Whether each of ``refs`` is in ``sorted_refs``, by binary search: ``np.isin`` would
    sort the register's references again for every batch (a DuckDB view's every vector)."""
    if not sorted_refs.size:
        return np.zeros(len(refs), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_refs, refs), sorted_refs.size - 1)
    return np.asarray(sorted_refs[at] == refs, dtype=bool)


@dataclass(frozen=True)
class AllOf:
    """The rows every one of ``filters`` allows.

    ``requires_grant`` is the first filter's, the release purpose's own: it decides what
    an empty opt-out flag means. Rows without an id are judged by each filter in
    :meth:`allowed`.
    """

    filters: tuple[SubjectFilter, ...]

    @property
    def requires_grant(self) -> bool:
        """Whether the release's purpose needs a recorded grant."""
        return self.filters[0].requires_grant

    def allowed(self, ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """One bool per id: True where every filter allows the subject."""
        keep = np.ones(len(ids), dtype=bool)
        for part in self.filters:
            keep &= part.allowed(ids)
        return keep

    def describe(self) -> str:
        """Each filter's rule, in order."""
        return "; ".join(part.describe() for part in self.filters)
