"""What each preset gives support, fulfilment and analytics, on generated customers.

Support and fulfilment once received full card numbers under GDPR, CCPA and PIPL;
fulfilment got only a postcode district, which cannot ship a parcel; and LGPD tokenized,
rather than dropped, names, emails, phones, addresses and IP addresses for analytics.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from shopveil.data import generate_retail, read_table
from shopveil.pipeline import anonymize_file

LAWS = ("gdpr", "ccpa", "lgpd", "pipl")
PARCEL = ("name", "street_address", "postcode", "city", "country", "phone")


@lru_cache(maxsize=1)
def _customers() -> pa.Table:
    return generate_retail(200, seed=9).tables["customers"]


@pytest.fixture
def customers(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    pacsv.write_csv(_customers(), path)
    return path


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize(("purpose", "role"), [("support", "support_agent"),
                                               ("fulfilment", "support_agent")])  # fmt: skip
def test_support_and_fulfilment_see_only_the_last_four_digits_of_a_card(
    customers: Path, law: str, purpose: str, role: str
) -> None:
    out = customers.with_name(f"{law}-{purpose}.csv")
    result = anonymize_file(customers, out, policy=law, purpose=purpose, role=role)
    assert result.plan.step("card_number").technique == "mask_card"
    cards = _customers().column("card_number").to_pylist()
    masked = read_table(out).column("card_number").to_pylist()
    assert len(masked) == len(cards)
    for card, shown in zip(cards, masked, strict=True):
        assert shown != card and shown.endswith(card[-4:])
        assert sum(ch.isdigit() for ch in shown) == 4
    assert not set(cards) & set(out.read_text().replace(",", "\n").split("\n"))


@pytest.mark.parametrize("law", LAWS)
def test_fulfilment_gets_what_a_parcel_needs(customers: Path, law: str) -> None:
    out = customers.with_name(f"{law}-parcel.parquet")  # CSV would escape "+44 ..."
    anonymize_file(customers, out, policy=law, purpose="fulfilment", role="support_agent")
    released = read_table(out)
    for column in PARCEL:
        assert released.column(column).to_pylist() == _customers().column(column).to_pylist(), (
            column
        )


@pytest.mark.parametrize("law", LAWS)
def test_analytics_gets_no_contact_data_under_any_preset(customers: Path, law: str) -> None:
    out = customers.with_name(f"{law}-analytics.csv")
    result = anonymize_file(customers, out, policy=law, purpose="analytics", role="admin")
    dropped = {s.column for s in result.plan.steps if s.dropped}
    if law == "lgpd":  # dropped, not tokenized (necessity, Art. 6 III)
        assert {"name", "email", "phone", "street_address", "ip_address"} <= dropped
        assert result.plan.step("customer_id").technique == "token"  # joins still work
    released = read_table(out)
    for column in ("email", "phone", "street_address", "ip_address", "card_number"):
        if column in released.column_names:  # CCPA fakes names, emails and phones
            assert not set(released.column(column).to_pylist()) & set(
                _customers().column(column).to_pylist()
            ), (law, column)
