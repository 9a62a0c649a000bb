"""Properties of the rows a bound plan lets out: retention and each row's own law.

For any dates, day of release and residences: no row dated before the purpose's period
(or not dated at all) is released and every other row is; a column past its own period
is null exactly where its row is too old; and each row passes the consent checks of the
law of its own residence, no more and no fewer.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st

from shopveil.governance import LEGAL_BASES, ConsentFilter, ConsentPurpose
from shopveil.governance._filter import REF_BYTES, subject_ref
from shopveil.pipeline import apply_plan
from shopveil.pipeline._subjects import ReleaseConsent
from shopveil.policy import Jurisdiction, bind_processing, compile_plan, parse_policy

POLICY = """\
shopveil_policy: 1
name: rows
purposes:
  analytics: {release_modes: [record]}
roles:
  analyst: {purposes: [analytics], sees: [direct_identifier, quasi_identifier, other]}
columns:
  customer_id: {class: direct_identifier, kind: customer_id, technique: keep}
  day: {class: quasi_identifier, kind: event_time, technique: keep}
  note: {class: other, technique: keep}
  residence: {class: other, technique: keep}
retention:
  clock: [day]
  purposes:
    analytics: {days: 30}
  columns:
    note: {days: 7}
residence:
  column: residence
  jurisdictions:
    gdpr: [DE]
    pipl: [CN]
"""
SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("day", pa.date32()),
        ("note", pa.string()),
        ("residence", pa.string()),
    ]
)
START = date(2024, 1, 1)
KEY = secrets.token_bytes(32)

rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 30).map(str)),  # customer id (None: a guest)
        st.one_of(st.none(), st.integers(0, 120).map(lambda d: START + timedelta(days=d))),
        st.sampled_from(["DE", "CN", " de ", "cn"]),  # spelled as exports write them
    ),
    max_size=60,
)


def _plan(as_of: date) -> object:
    policy = parse_policy(POLICY)
    plan = compile_plan(policy, SCHEMA, purpose="analytics")
    return bind_processing(plan, policy, SCHEMA, as_of=as_of)


def _batch(data: list[tuple[str | None, date | None, str]]) -> pa.RecordBatch:
    ids, days, residences = zip(*data, strict=True) if data else ((), (), ())
    return pa.RecordBatch.from_arrays(
        [
            pa.array(ids, pa.string()),
            pa.array(days, pa.date32()),
            pa.array([f"n{i}" for i in range(len(data))], pa.string()),
            pa.array(residences, pa.string()),
        ],
        schema=SCHEMA,
    )


def _refs(ids: set[str]) -> np.ndarray:
    return np.unique(np.array([subject_ref(KEY, i) for i in ids], dtype=f"S{REF_BYTES}"))


@given(rows, st.integers(0, 150))
@example([("1", START, "DE"), ("2", START - timedelta(days=1), "DE")], 30)  # on the cutoff
@example([("1", START, "DE"), ("2", START - timedelta(days=1), "DE")], 7)  # the column's
def test_no_row_past_retention_is_released_and_every_other_row_is(
    data: list[tuple[str | None, date | None, str]], offset: int
) -> None:
    as_of = START + timedelta(days=offset)
    released = apply_plan(_plan(as_of), _batch(data))  # type: ignore[arg-type]
    cutoff, column_cutoff = as_of - timedelta(days=30), as_of - timedelta(days=7)
    kept = [(i, d) for i, (_, d, _) in enumerate(data) if d is not None and d >= cutoff]
    assert released.column("note").to_pylist() == [
        f"n{i}" if d >= column_cutoff else None for i, d in kept
    ]


@given(
    rows,
    st.sets(st.integers(0, 30).map(str)),
    st.sets(st.integers(0, 30).map(str)),
    st.sets(st.integers(0, 30).map(str)),
)
def test_each_row_passes_exactly_the_checks_of_its_own_law(
    data: list[tuple[str | None, date | None, str]],
    gdpr_refused: set[str],
    pipl_granted: set[str],
    pipl_refused: set[str],
) -> None:
    recent = [(c, START + timedelta(days=100), r) for c, _, r in data]  # all within the period
    gdpr = LEGAL_BASES[(Jurisdiction.GDPR, ConsentPurpose.ANALYTICS)]  # objection
    pipl = LEGAL_BASES[(Jurisdiction.PIPL, ConsentPurpose.ANALYTICS)]  # consent
    pipl_ok = pipl_granted - pipl_refused
    subjects = ReleaseConsent(
        {
            Jurisdiction.GDPR: (ConsentFilter("analytics", gdpr, KEY, _refs(gdpr_refused)),),
            Jurisdiction.PIPL: (
                ConsentFilter("analytics", pipl, KEY, _refs(pipl_refused), _refs(pipl_ok)),
            ),
        },
        parse_policy(POLICY).processing.residence,
    )
    plan = _plan(START + timedelta(days=101))
    released = apply_plan(plan, _batch(recent), subjects=subjects)  # type: ignore[arg-type]
    expected = [
        c
        for c, _, r in recent
        if (
            (c is None or c not in gdpr_refused)
            if r.strip().lower() == "de"
            else (c is not None and c in pipl_ok)
        )
    ]
    assert released.column("customer_id").to_pylist() == expected
