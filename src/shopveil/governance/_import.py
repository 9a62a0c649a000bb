"""``consent import``: a file checked whole, its customers matched, then one write.

Nothing is written unless every row is valid and every customer is known: a customer is
known when some dataset registered per customer (``shopveil data add``) holds their id.
A consent record for an id no dataset holds is most often a typo or an export from the
wrong system; ``allow_unknown`` records such customers anyway (the audit event counts
them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from shopveil._core.units import PerCustomer
from shopveil.data import open_source
from shopveil.dp import Catalog
from shopveil.errors import ParameterError
from shopveil.governance._file import read_consent_file
from shopveil.governance._filter import REF_BYTES, subject_refs
from shopveil.governance._register import ConsentImport, ConsentRegister

__all__ = ["import_consent", "unknown_customers"]


def import_consent(
    path: str | os.PathLike[str],
    register: ConsentRegister,
    catalog: Catalog,
    *,
    actor: str,
    allow_unknown: bool = False,
    source: str = "import",
) -> ConsentImport:
    """Validate the consent file at ``path`` whole, then record it with one audit event.

    Raises
    ------
    SourceError
        A row is invalid (named in the message); nothing was written.
    ParameterError
        Customers that no registered dataset holds, without ``allow_unknown``; the
        message says how many, never who. Nothing was written.
    """
    rows = read_consent_file(path, now=register.audit.clock.now(), source=source)
    customers = sorted({row.customer for row in rows})
    unknown = unknown_customers(register, catalog, customers)
    if unknown and not allow_unknown:
        registered = sum(isinstance(d.unit, PerCustomer) for d in catalog.datasets())
        where = (
            f"any of the {registered} dataset(s) registered per customer"
            if registered
            else "any registered dataset (none is registered per customer)"
        )
        raise ParameterError(
            f"{Path(path).name}: {unknown} of {len(customers)} customer(s) are not in "
            f"{where}; check the ids, register the data with `shopveil data add`, or pass "
            "--allow-unknown to record them anyway. Nothing was written"
        )
    return register.record(rows, actor=actor, unknown=unknown, file=Path(path).name)


def unknown_customers(register: ConsentRegister, catalog: Catalog, customers: Iterable[str]) -> int:
    """How many of ``customers`` no dataset registered per customer holds."""
    wanted = np.array([register.ref(c) for c in customers], dtype=f"S{REF_BYTES}")
    known = np.zeros(len(wanted), dtype=bool)
    for entry in catalog.datasets():
        if not isinstance(entry.unit, PerCustomer) or known.all():
            continue
        for batch in open_source(entry.path).batches():
            refs, valid = subject_refs(register.key, batch.column(entry.unit.id_column))
            known |= np.isin(wanted, refs[valid])
    return int((~known).sum())
