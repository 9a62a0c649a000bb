"""The consent register: latest decision wins, every spelling of an id is one customer,
each law's basis decides what no record means, and erasure keeps only objections."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from shopveil.audit import AuditLog
from shopveil.errors import ParameterError
from shopveil.governance import (
    LEGAL_BASES,
    Basis,
    ConsentPurpose,
    ConsentRecord,
    ConsentRegister,
    ConsentRow,
    ConsentStatus,
    legal_basis,
)
from shopveil.keys import Keyring
from shopveil.policy import Jurisdiction
from shopveil.store import Store, consent_records

NOW = datetime(2024, 6, 1, tzinfo=UTC)
M, A, P, S = (
    ConsentPurpose.MARKETING,
    ConsentPurpose.ANALYTICS,
    ConsentPurpose.PERSONALIZATION,
    ConsentPurpose.SALE_SHARING,
)
G, R, W = ConsentStatus.GRANTED, ConsentStatus.REFUSED, ConsentStatus.WITHDRAWN


def _register(store: Store) -> ConsentRegister:
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    return ConsentRegister(store, keyring, AuditLog(store, keyring))


def _row(customer: str, purpose: ConsentPurpose, status: ConsentStatus, day: int) -> ConsentRow:
    at = datetime(2024, 1, day, tzinfo=UTC)
    return ConsentRow("line 2", customer, ConsentRecord(purpose, status, at, None, "test"))


def _allowed(register: ConsentRegister, purpose: str, law: str | None, ids: list[object]) -> list:
    return register.filter(purpose, law).allowed(pa.array(ids)).tolist()


def test_the_latest_decision_by_date_wins_and_a_refusal_wins_a_tie(store: Store) -> None:
    register = _register(store)
    register.record(
        [
            _row("1", M, G, 1),
            _row("1", M, W, 5),  # withdrawn later: out
            _row("2", M, R, 1),
            _row("2", M, G, 9),  # granted again later: in
            _row("3", M, G, 4),
            _row("3", M, R, 4),  # the same day: the refusal holds
        ],
        actor="t",
    )
    # LGPD marketing needs consent: only a grant in force lets a customer in.
    assert _allowed(register, "marketing", "lgpd", ["1", "2", "3", "4"]) == [
        False,
        True,
        False,
        False,  # no record: no consent
    ]
    assert register.current("3")[M].status is R
    assert register.current("2")[M].status is G


@pytest.mark.parametrize("spelling", ["17850", "17850.0", " 17850", "017850", "+17850.00"])
def test_a_refused_customer_is_refused_under_every_spelling(store: Store, spelling: str) -> None:
    register = _register(store)
    register.record([_row(spelling, M, R, 1)], actor="t")
    as_text = ["17850", " 17850 ", "17850.0", "\u00a017850", "017850"]
    assert not any(_allowed(register, "marketing", "gdpr", as_text))
    assert not any(register.filter("marketing", "gdpr").allowed(pa.array([17850, 17850])))
    assert not any(register.filter("marketing", "gdpr").allowed(pa.array([17850.0])))
    assert _allowed(register, "marketing", "gdpr", ["17851"]) == [True]


@pytest.mark.parametrize(
    ("law", "purpose", "no_record"),
    [
        ("gdpr", "marketing", True),  # legitimate interest, absolute right to object
        ("gdpr", "model_training", True),  # profiling: objection
        ("gdpr", "sale_sharing", False),
        ("ccpa", "marketing", True),  # opt-out
        ("ccpa", "sale_sharing", True),
        ("lgpd", "marketing", False),  # consent, revocable
        ("lgpd", "analytics", True),
        ("pipl", "analytics", False),  # no legitimate interest in PIPL
        ("pipl", "personalization", False),
        ("pipl", "sale_sharing", False),  # separate consent
        (None, "marketing", False),
        (None, "analytics", True),
        (None, "-", True),  # a query that names no purpose is analytics
    ],
)
def test_what_no_record_means_is_the_laws(
    store: Store, law: str | None, purpose: str, no_record: bool
) -> None:
    register = _register(store)
    consent = legal_basis(purpose, law)
    assert consent is not None
    empty = register.filter(purpose, law)
    register.record([_row("1", consent.purpose, R, 1), _row("2", consent.purpose, G, 1)], actor="t")
    assert _allowed(register, purpose, law, ["1", "2", "3"]) == [False, True, no_record]
    # A row without a customer id is no one's: it goes wherever a grant is needed.
    assert _allowed(register, purpose, law, [None, ""]) == [no_record, no_record]
    # With no record at all, only the law decides, for ids and non-ids alike.
    ids = pa.array(["1", "2", "17850.5", None, ""])
    assert empty.allowed(ids).tolist() == [no_record] * 5
    assert empty.allowed(pa.chunked_array([ids, ids])).tolist() == [no_record] * 10


def test_ccpa_marketing_honours_a_gpc_opt_out_of_sale_and_sharing(store: Store) -> None:
    register = _register(store)
    register.record([_row("1", S, R, 1), _row("2", M, R, 1)], actor="t")
    assert _allowed(register, "marketing", "ccpa", ["1", "2", "3"]) == [False, False, True]
    # GDPR marketing rests on the marketing objection alone.
    assert _allowed(register, "marketing", "gdpr", ["1", "2", "3"]) == [True, False, True]


def test_contract_purposes_are_not_limited_and_unknown_purposes_are_refused(store: Store) -> None:
    register = _register(store)
    register.record([_row("1", M, R, 1)], actor="t")
    assert _allowed(register, "fulfilment", "lgpd", ["1", None]) == [True, True]
    with pytest.raises(ParameterError, match="purpose 'spying' has no legal basis"):
        register.filter("spying", "gdpr")
    with pytest.raises(ParameterError, match="unknown jurisdiction 'eu'"):
        register.filter("marketing", "eu")


def test_every_law_and_purpose_has_a_row_with_its_articles() -> None:
    for law in (*Jurisdiction, None):
        for purpose in ConsentPurpose:
            row = LEGAL_BASES[(law, purpose)]
            assert row.articles and isinstance(row.basis, Basis)
    assert LEGAL_BASES[(Jurisdiction.GDPR, M)].articles.endswith("Art. 21(2)-(3)")
    assert LEGAL_BASES[(Jurisdiction.PIPL, S)].basis is Basis.SEPARATE_CONSENT


def test_the_register_holds_keyed_references_never_ids(store: Store, tmp_path: Path) -> None:
    register = _register(store)
    register.record([_row("17850", M, R, 1), _row("AB-12", P, G, 1)], actor="t")
    with store.engine.connect() as conn:
        stored = [tuple(str(v) for v in row) for row in conn.execute(sa.select(consent_records))]
    assert stored and not any("17850" in v or "AB-12" in v for row in stored for v in row)
    # Another workspace's key makes other references: the same id is not found there.
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(consent_records))]
    elsewhere = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with elsewhere.transaction() as conn:
            conn.execute(sa.insert(consent_records), rows)
        assert _register(elsewhere).current("17850") == {}
    finally:
        elsewhere.close()


def test_erasure_keeps_objections_in_force_and_nothing_else(store: Store) -> None:
    register = _register(store)
    register.record(
        [
            _row("7", M, G, 1),
            _row("7", M, R, 2),  # marketing: the refusal in force stays
            _row("7", A, R, 1),
            _row("7", A, G, 2),  # analytics: granted again, so everything goes
            _row("7", P, G, 1),  # personalization: a grant goes
            _row("8", M, G, 1),
        ],
        actor="t",
    )
    erased = register.erase_subject("7.0", actor="t")
    assert (erased.deleted, erased.kept) == (4, 1)
    assert {p: r.status for p, r in register.current("7").items()} == {M: R}
    assert register.current("8")[M].status is G  # nobody else's records change
    assert _allowed(register, "marketing", "gdpr", ["7"]) == [False]
