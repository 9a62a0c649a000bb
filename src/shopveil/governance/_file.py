"""Reading a consent file: every row checked before anything is written.

A consent file (CSV or Parquet) has the columns ``customer``, ``purpose`` and ``status``
(granted, refused or withdrawn), and optionally ``date`` (ISO 8601; the import's time
when left out), ``jurisdiction`` (gdpr, ccpa, lgpd, pipl) and ``source``. Purpose ``gpc``
records a Global Privacy Control signal: an opt-out of sale and sharing (status
``refused``), kept with source ``gpc``.

Messages name the row and the column, never a customer id.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shopveil._core.subjects import canonical_id
from shopveil.data import read_table
from shopveil.errors import ParameterError, SourceError
from shopveil.governance._bases import ConsentPurpose, ConsentStatus
from shopveil.governance._register import ConsentRecord, ConsentRow, format_at
from shopveil.policy import Jurisdiction

__all__ = ["GPC", "check_source", "read_consent_file"]

GPC = "gpc"
"""The purpose a Global Privacy Control signal is written under in a consent file."""

REQUIRED = ("customer", "purpose", "status")
OPTIONAL = ("date", "jurisdiction", "source")
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # a day, or a day and a time with an optional offset
    r"([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?"
)
# A clock a little fast at the source is not a decision from the future.
_SKEW_SECONDS = 86_400


def check_source(source: str, where: str) -> str:
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise ParameterError(
            f"{where}: a source is 1 to 64 letters, digits or _ . : - (starting with a "
            "letter or digit), e.g. web-form or crm:2024-03"
        )
    return source


def read_consent_file(
    path: str | os.PathLike[str], *, now: datetime, source: str = "import"
) -> list[ConsentRow]:
    """Every row of a consent file, validated; the first problem raises, naming its row.

    Raises
    ------
    SourceError
        The file cannot be read, lacks a column, has a column it should not, or a row
        holds a value that is missing, unknown or ambiguous, or two rows give one customer
        and purpose two statuses on one date.
    """
    path = Path(path)
    check_source(source, "--source")
    table = read_table(path)
    columns = _columns(table.column_names, path.name)
    parquet = path.suffix.lower() == ".parquet"
    now = now.astimezone(UTC).replace(microsecond=0)
    data = {name: table.column(actual).to_pylist() for name, actual in columns.items()}
    if not table.num_rows:
        raise SourceError(f"{path.name}: the file has no rows; nothing to import")
    rows: list[ConsentRow] = []
    seen: dict[tuple[str, ConsentPurpose, str], tuple[str, ConsentStatus]] = {}
    for index in range(table.num_rows):
        where = f"row {index + 1}" if parquet else f"line {index + 2}"
        value = {name: values[index] for name, values in data.items()}
        row = _row(value, where, now, source, path.name)
        key = (row.customer, row.record.purpose, format_at(row.record.at))
        earlier = seen.get(key)
        if earlier is not None:
            if earlier[1] is not row.record.status:
                raise SourceError(
                    f"{path.name} {where}: the same customer, purpose and date as "
                    f"{earlier[0]} with another status ({earlier[1].value}, "
                    f"{row.record.status.value}); keep the one that holds, or give each "
                    "its own date"
                )
            continue  # the same record twice: kept once
        seen[key] = (where, row.record.status)
        rows.append(row)
    return rows


def _columns(names: list[str], file: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key not in (*REQUIRED, *OPTIONAL):
            raise SourceError(
                f"{file}: unknown column {name!r}; a consent file has the columns "
                f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}"
            )
        if key in found:
            raise SourceError(f"{file}: the column {key!r} appears twice; keep one")
        found[key] = name
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        raise SourceError(
            f"{file}: no column {missing[0]!r}; a consent file has the columns "
            f"{', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}"
        )
    return found


def _row(value: dict[str, Any], where: str, now: datetime, source: str, file: str) -> ConsentRow:
    at = f"{file} {where}"
    if value["customer"] is None or value["customer"] == "":
        raise SourceError(f"{at}: the customer is empty; every row names one customer")
    try:
        customer = canonical_id(value["customer"])
    except ParameterError as exc:
        raise SourceError(f"{at}: column 'customer': {exc}") from None
    status = _status(value["status"], at)
    purpose = _word(value["purpose"], "purpose", at)
    if purpose == GPC:
        if status is not ConsentStatus.REFUSED:
            raise SourceError(
                f"{at}: purpose gpc records a Global Privacy Control opt-out, so its "
                f"status is refused, not {status.value}; record an opt-in as purpose "
                "sale_sharing, status granted"
            )
        chosen, source = ConsentPurpose.SALE_SHARING, GPC
    else:
        try:
            chosen = ConsentPurpose(purpose)
        except ValueError:
            choices = ", ".join([*(p.value for p in ConsentPurpose), GPC])
            raise SourceError(
                f"{at}: unknown purpose {_shown(value['purpose'])}; use one of {choices}"
            ) from None
    if value.get("source") not in (None, ""):
        source = check_source(str(value["source"]).strip(), f"{at}: column 'source'")
    return ConsentRow(
        where,
        customer,
        ConsentRecord(
            purpose=chosen,
            status=status,
            at=_date(value.get("date"), at, now),
            jurisdiction=_jurisdiction(value.get("jurisdiction"), at),
            source=source,
        ),
    )


def _word(value: Any, column: str, at: str) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        raise SourceError(f"{at}: column {column!r} is empty; give one value per row")
    return text.lower()


def _status(value: Any, at: str) -> ConsentStatus:
    word = _word(value, "status", at)
    try:
        return ConsentStatus(word)
    except ValueError:
        choices = ", ".join(s.value for s in ConsentStatus)
        raise SourceError(f"{at}: unknown status {_shown(value)}; use one of {choices}") from None


def _jurisdiction(value: Any, at: str) -> Jurisdiction | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return Jurisdiction(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(j.value for j in Jurisdiction)
        raise SourceError(
            f"{at}: unknown jurisdiction {_shown(value)}; use one of {choices}, or leave it empty"
        ) from None


def _date(value: Any, at: str, now: datetime) -> datetime:
    if value is None or (isinstance(value, str) and not value.strip()):
        return now
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if not _DATE.fullmatch(text):
            raise SourceError(
                f"{at}: the date {_shown(value)} is not ISO 8601 and may read two ways; "
                "write it as 2024-03-01 or 2024-03-01T10:00:00Z"
            )
        try:
            found = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise SourceError(f"{at}: the date {_shown(value)} does not exist") from None
    # A time without an offset is taken as UTC.
    found = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    found = found.replace(microsecond=0)
    if (found - now).total_seconds() > _SKEW_SECONDS:
        raise SourceError(
            f"{at}: the date {format_at(found)} is in the future; a decision is dated when "
            "the customer made it"
        )
    return found


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
