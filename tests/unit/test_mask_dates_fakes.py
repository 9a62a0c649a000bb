"""Per-subject date shifting, and fake substitution against a per-value reference."""

from __future__ import annotations

import hmac
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.operators import OperatorContext
from shopveil.errors import KeyringError, ParameterError, SchemaError
from shopveil.keys import Keyring
from shopveil.mask import DateShift, FakeKind, FakeSubstitute
from shopveil.mask._substitute import _pools


def ctx(keyring: Keyring | None, column: str = "order_time", purpose: str = "analytics"):
    return OperatorContext(purpose=purpose, column=column, keys=keyring)


events = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4"]), st.dates(date(2000, 1, 1), date(2030, 1, 1))
    ),
    min_size=1,
    max_size=40,
)


@given(rows=events)
def test_date_shift_keeps_each_subjects_intervals(keyring: Keyring, rows: list) -> None:
    subjects = pa.array([s for s, _ in rows])
    dates = pa.array([d for _, d in rows], pa.date32())
    shifted = DateShift(max_days=90).shift(dates, subjects, ctx(keyring)).to_pylist()
    offset: dict[str, timedelta] = {}
    for (subject, before), after in zip(rows, shifted, strict=True):
        moved = after - before
        assert timedelta(days=1) <= abs(moved) <= timedelta(days=90)
        assert offset.setdefault(subject, moved) == moved  # one offset per subject


def test_date_shift_is_keyed_and_handles_text_and_nulls(keyring: Keyring) -> None:
    subjects = pa.array(["c1", "c1", None, "c2"])
    text = pa.array(["2011-01-01 10:00:00", "2011-01-03 09:30:00", "2011-02-02", None])
    out = DateShift().shift(text, subjects, ctx(keyring)).to_pylist()
    first, second = (datetime.fromisoformat(v) for v in out[:2])
    assert second - first == timedelta(days=1, hours=23, minutes=30)
    assert out[2] is None and out[3] is None  # no subject, or no date: nothing to show
    other = DateShift().shift(text, subjects, ctx(keyring, purpose="marketing")).to_pylist()
    assert other[0] != out[0]


def test_date_shift_over_a_table(keyring: Keyring) -> None:
    table = pa.table(
        {
            "customer_id": ["a", "a", "b"],
            "signup": pa.array([date(2010, 1, 1)] * 3, pa.date32()),
            "first_order": pa.array([date(2010, 1, 11), date(2010, 1, 11), date(2010, 3, 1)]),
        }
    )
    out = DateShift().apply_table(table, ["signup", "first_order"], "customer_id", ctx(keyring))
    gaps_in = [
        (o - s).days
        for s, o in zip(table["signup"].to_pylist(), table["first_order"].to_pylist(), strict=True)
    ]
    gaps_out = [
        (o - s).days
        for s, o in zip(out["signup"].to_pylist(), out["first_order"].to_pylist(), strict=True)
    ]
    assert gaps_in == gaps_out and out["signup"].type == pa.date32()
    assert table["signup"].to_pylist()[0] == date(2010, 1, 1)  # the input is unchanged


def test_date_shift_errors(keyring: Keyring) -> None:
    with pytest.raises(SchemaError, match="not dates"):
        DateShift().shift(pa.array(["soon"]), pa.array(["a"]), ctx(keyring))
    with pytest.raises(SchemaError, match="rows"):
        DateShift().shift(pa.array(["2011-01-01"]), pa.array(["a", "b"]), ctx(keyring))
    with pytest.raises(KeyringError):
        DateShift().shift(pa.array(["2011-01-01"]), pa.array(["a"]), ctx(None))
    with pytest.raises(ParameterError, match="max_days"):
        DateShift(max_days=0)


def reference_fake(kind: FakeKind, key: bytes, value: str, locale: str = "en_GB") -> str:
    """The substitution rule written per value: eight 32-bit draws from the value's MAC."""
    pools = _pools(locale)
    draws = np.frombuffer(hmac.digest(key, value.encode(), "sha256"), "<u4").astype(np.int64)

    def pick(pool: pa.Array, i: int) -> str:
        return pool[int(draws[i] % len(pool))].as_py()

    first, last, number = pick(pools.first, 0), pick(pools.last, 1), int(draws[2] % 1000)
    tld = ["com", "org", "net"][int(draws[3] % 3)]
    return {
        FakeKind.PERSON_NAME: f"{first} {last}",
        FakeKind.FIRST_NAME: first,
        FakeKind.LAST_NAME: last,
        FakeKind.EMAIL: f"{first.lower()}.{last.lower().replace(' ', '')}{number}@example.{tld}",
        FakeKind.PHONE: f"+44 7700 900{number:03d}",
        FakeKind.STREET_ADDRESS: f"{number % 200 + 1} {pick(pools.street, 4)}",
        FakeKind.CITY: pick(pools.city, 5),
    }[kind]


# Fewer examples: runs once per fake kind; each example builds vectorized fakes.
@settings(max_examples=25)
@given(values=st.lists(st.one_of(st.none(), st.text(max_size=20)), min_size=1, max_size=30))
@pytest.mark.parametrize("kind", list(FakeKind))
def test_vectorized_fakes_follow_the_per_value_rule(
    keyring: Keyring, kind: FakeKind, values: list
) -> None:
    context = ctx(keyring, column="name")
    out = FakeSubstitute(kind=kind).apply(pa.array(values, pa.string()), context).to_pylist()
    key = keyring.derive("analytics", "fake:name")
    for value, fake in zip(values, out, strict=True):
        assert fake == (None if value is None else reference_fake(kind, key, value))
