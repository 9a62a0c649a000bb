"""Individual privacy accounting: each person in a release pays for it, or is left out.

A release charges every person in its input. The ledger keeps, per person, what they
have spent (by a keyed hash of their canonical id, never the id), and a person who
cannot afford the release is removed from its input before anything is computed: a
privacy filter (Feldman & Zrnic, "Individual privacy accounting via a Rényi filter",
NeurIPS 2021; for (ε, δ) with basic composition, Rogers et al. 2016). Whether someone is
left out depends only on their own history, so the release stays DP for everyone, and
no copy, subset, re-encoding or renaming of the data buys anyone a fresh budget: the
budget follows the person, not the name. ``docs/privacy.md`` gives the argument.

Charging millions of people at once is :mod:`shopveil.dp._people_sql`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.budgets import Budget
from shopveil._core.subjects import canonical_ids
from shopveil._core.units import PerCustomer
from shopveil.errors import ParameterError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SKETCH_SIZE",
    "People",
    "PeopleKey",
    "PeopleSpending",
    "containment",
    "id_array",
    "sketch_of",
]

SKETCH_SIZE = 4096
"""How many of the smallest person hashes a dataset's fingerprint keeps."""

_MASK = np.int64(0x7FFF_FFFF_FFFF_FFFF)


@dataclass(frozen=True, eq=False)
class People:
    """The people a release reads: sorted, unique 63-bit keyed hashes of their ids.

    ``pids`` never leave the store and the ledger; they are not the ids and cannot be
    turned back into them without the workspace's key.
    """

    namespace: str
    pids: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        pids = np.unique(np.asarray(self.pids, dtype=np.int64))
        if pids.size and pids[0] < 0:
            raise ParameterError("person hashes must be non-negative 63-bit integers")
        object.__setattr__(self, "pids", pids)

    def __len__(self) -> int:
        return int(self.pids.size)

    def without(self, pids: np.ndarray) -> People:
        """These people less ``pids``."""
        return People(self.namespace, self.pids[~np.isin(self.pids, pids)])


@dataclass(frozen=True)
class PeopleKey:
    """The keyed hash that turns canonical subject ids into person hashes.

    One key per workspace (derived from its keyring), so the same customer gets the same
    hash in every dataset, file and release, and a reader of the database alone cannot
    test a guessed id against the ledger.
    """

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) < 32:
            raise ParameterError("the people key must be at least 32 random bytes")

    def hash_ids(self, values: pa.Array | pa.ChunkedArray, unit: PerCustomer) -> np.ndarray:
        """Per value, its person hash; -1 where the value is not an id of ``unit``."""
        import pyarrow.compute as pc

        from shopveil._core.prf import hmac_sha256_array

        canonical = canonical_ids(values, unit.id_type)
        # One key per namespace: the same id in two namespaces is two people.
        namespace_key = hmac.digest(
            self.key, b"shopveil/people/" + unit.namespace.encode(), "sha256"
        )
        macs = hmac_sha256_array(namespace_key, canonical)
        pids = np.ascontiguousarray(macs[:, :8]).view("<i8").ravel() & _MASK
        valid = np.asarray(pc.is_valid(canonical).to_numpy(zero_copy_only=False), dtype=bool)
        return np.where(valid, pids, np.int64(-1))

    def people(self, values: pa.Array | pa.ChunkedArray, unit: PerCustomer) -> People:
        """The people whose ids are ``values`` (nulls and non-ids are no one)."""
        pids = self.hash_ids(values, unit)
        return People(unit.namespace, pids[pids >= 0])


def sketch_of(people: People) -> np.ndarray:
    """The fingerprint of a dataset's people: its :data:`SKETCH_SIZE` smallest hashes."""
    return people.pids[:SKETCH_SIZE].copy()


def containment(people: People, sketch: np.ndarray) -> float:
    """Estimated share of ``people`` who are among the people ``sketch`` fingerprints.

    Bottom-k estimate: below the sketch's largest hash the sketch holds *every* person
    of its dataset, so the share of our hashes in that range found in the sketch
    estimates the share of all our people found in the dataset. Exact for datasets with
    fewer than :data:`SKETCH_SIZE` people.
    """
    if not len(people) or not sketch.size:
        return 0.0
    full = sketch.size >= SKETCH_SIZE
    below = people.pids[people.pids <= sketch[-1]] if full else people.pids
    if not below.size:
        return 0.0
    return float(np.isin(below, sketch).mean())


@dataclass(frozen=True)
class PeopleSpending:
    """What the people of a namespace have spent now, against a per-person ``total``.

    ``exhausted`` is exact here, for the steward; show it as :meth:`exhausted_range`.
    """

    namespace: str
    total: Budget
    most: Budget
    exhausted: int

    def exhausted_range(self) -> str:
        """How many people have no budget left, as a decade range ("<10", "10-99", …)."""
        if self.exhausted < 10:
            return "<10"
        low = 10 ** (len(str(self.exhausted)) - 1)
        return f"{low}-{low * 10 - 1}"


def id_array(ids: Any) -> Any:
    import pyarrow as pa

    values = list(ids)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.array(values, pa.int64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())
