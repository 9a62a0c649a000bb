"""Consent files are checked whole: each problem is one message naming its row, never an id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopveil.errors import SourceError
from shopveil.governance import ConsentPurpose, ConsentStatus, read_consent_file
from shopveil.policy import Jurisdiction

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET_ID = "98765"  # the id in every bad row: it must never appear in a message


def _read(tmp_path: Path, text: str) -> list:
    path = tmp_path / "consent.csv"
    path.write_text(text)
    return read_consent_file(path, now=NOW)


def test_a_good_file_reads_every_column(tmp_path: Path) -> None:
    rows = _read(
        tmp_path,
        "customer,purpose,status,date,jurisdiction,source\n"
        " 17850.0,Marketing,REFUSED,2024-03-01,gdpr,web-form\n"
        "17851,gpc,refused,2024-03-01T10:00:00+02:00,ccpa,\n"
        "17852,personalization,withdrawn,,,\n",
    )
    first, gpc, undated = (r.record for r in rows)
    assert rows[0].customer == "17850" and first.purpose is ConsentPurpose.MARKETING
    assert first.status is ConsentStatus.REFUSED and first.jurisdiction is Jurisdiction.GDPR
    assert first.at == datetime(2024, 3, 1, tzinfo=UTC) and first.source == "web-form"
    # A Global Privacy Control signal is an opt-out of sale and sharing, kept as such.
    assert gpc.purpose is ConsentPurpose.SALE_SHARING and gpc.source == "gpc"
    assert gpc.at == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert undated.at == NOW and undated.source == "import" and undated.jurisdiction is None


def test_the_same_record_twice_is_kept_once(tmp_path: Path) -> None:
    rows = _read(
        tmp_path,
        "customer,purpose,status,date\n1,marketing,granted,2024-01-01\n1.0,marketing,granted,"
        "2024-01-01\n",
    )
    assert len(rows) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{SECRET_ID},marketing,yes,2024-01-01", "line 3: unknown status 'yes'"),
        (f"{SECRET_ID},newsletter,granted,2024-01-01", "line 3: unknown purpose 'newsletter'"),
        (f"{SECRET_ID},marketing,granted,01/02/2024", "line 3: the date '01/02/2024' is not ISO"),
        (f"{SECRET_ID},marketing,granted,2024-02-30", "line 3: the date '2024-02-30' does not"),
        (f"{SECRET_ID},marketing,granted,2999-01-01", "line 3: the date 2999-01-01T00:00:00Z is"),
        (f"{SECRET_ID},marketing,,2024-01-01", "line 3: column 'status' is empty"),
        (f"{SECRET_ID},gpc,granted,2024-01-01", "line 3: purpose gpc records a Global Privacy"),
        (",marketing,granted,2024-01-01", "line 3: the customer is empty"),
        ("98765.5,marketing,granted,2024-01-01", "line 3: column 'customer': a numeric"),
        (f"{SECRET_ID},marketing,refused,2024-01-01", "line 3: the same customer, purpose and"),
    ],
)
def test_a_bad_row_is_one_line_naming_it(tmp_path: Path, body: str, message: str) -> None:
    text = f"customer,purpose,status,date\n{SECRET_ID}.0,marketing,granted,2024-01-01\n{body}\n"
    if "customer': a numeric" in message:
        # A fractional number is not an id; read it from Parquet, where it is a number.
        path = tmp_path / "consent.parquet"
        table = pa.table(
            {
                "customer": [98765.0, 98765.5],
                "purpose": ["marketing"] * 2,
                "status": ["granted"] * 2,
            }
        )
        pq.write_table(table, path)
        with pytest.raises(SourceError) as error:
            read_consent_file(path, now=NOW)
        message = "row 2: column 'customer': a numeric"
    else:
        with pytest.raises(SourceError) as error:
            _read(tmp_path, text)
    text = str(error.value)
    assert message in text and "\n" not in text
    assert SECRET_ID not in text


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("customer,purpose", "no column 'status'"),
        ("customer,purpose,status,cutomer", "unknown column 'cutomer'"),
        ("customer,purpose,status,Status", "the column 'status' appears twice"),
    ],
)
def test_a_bad_header_is_refused(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        _read(tmp_path, f"{header}\n")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="has no rows"):
        _read(tmp_path, "customer,purpose,status\n")
