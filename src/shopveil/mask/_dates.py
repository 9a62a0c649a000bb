"""Date shifting per subject: one secret offset per customer keeps that customer's intervals.

Every date of one subject moves by the same number of days, so the time between a
customer's sign-up and first order, or between two orders, is unchanged, while the
calendar dates no longer match anything outside the release. The offset comes from a
keyed MAC of the subject id, so it is the same in every table and every run under one
key, and unknowable without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil._core.prf import hmac_sha256_array
from shopveil.errors import ParameterError, SchemaError
from shopveil.mask._generalize import parse_dates
from shopveil.mask._text import as_text

__all__ = ["DateShift"]


@dataclass(frozen=True)
class DateShift:
    """Shift dates by a keyed per-subject offset in ``[-max_days, max_days]``, never 0.

    Needs the subject of each row, so it is applied with :meth:`shift` (or
    :meth:`apply_table`), not as a single-column operator.

    Parameters
    ----------
    max_days
        Largest shift in days.
    domain
        The key's context; tables sharing a domain shift a subject alike.
    """

    name: ClassVar[str] = "date_shift"

    max_days: int = 180
    domain: str = "subject"

    def __post_init__(self) -> None:
        if isinstance(self.max_days, bool) or not isinstance(self.max_days, int):
            raise ParameterError(f"max_days must be an integer, got {self.max_days!r}")
        if not 1 <= self.max_days <= 3650:
            raise ParameterError(f"max_days must be between 1 and 3650, got {self.max_days}")
        if not isinstance(self.domain, str) or not self.domain.strip():
            raise ParameterError("domain must be a non-empty name, e.g. 'customer_id'")

    def offsets(self, subjects: pa.Array, context: OperatorContext) -> np.ndarray:
        """Each subject's shift in days (0 where the subject is null)."""
        key = context.require_keys().derive(context.purpose, f"date_shift:{self.domain}")
        raw = pa.types.is_binary(subjects.type) or pa.types.is_large_binary(subjects.type)
        text = subjects if raw else as_text(subjects, "subject")
        macs = hmac_sha256_array(key, text)
        draw = macs[:, :8].copy().view("<u8").reshape(-1)
        # 2·max_days non-zero offsets; the modulo bias is below 2**-50.
        magnitude = (draw % np.uint64(self.max_days)).astype(np.int64) + 1
        sign = np.where((draw >> np.uint64(63)) == 1, -1, 1)
        shift = sign * magnitude
        return np.where(pc.is_valid(subjects).to_numpy(zero_copy_only=False), shift, 0)

    def shift(self, values: pa.Array, subjects: pa.Array, context: OperatorContext) -> pa.Array:
        """``values`` (dates, timestamps or ISO text) moved by each row's subject offset.

        Dates stay dates and timestamps stay timestamps; text comes back as ISO text.
        A null date, or a date whose subject is null, becomes null (an unshifted date
        would give the real one away).
        """
        if len(values) != len(subjects):
            raise SchemaError(
                f"column {context.column!r} has {len(values)} rows but the subjects have "
                f"{len(subjects)}"
            )
        days = pa.array(self.offsets(subjects, context) * 86_400_000_000, pa.int64())
        stamps = parse_dates(values, context.column).to_arrow().cast(pa.timestamp("us"))
        moved = pc.cast(pc.add(pc.cast(stamps, pa.int64()), days), pa.timestamp("us"))
        moved = pc.if_else(pc.is_valid(subjects), moved, pa.scalar(None, pa.timestamp("us")))
        if pa.types.is_date(values.type):
            return moved.cast(values.type)
        if pa.types.is_timestamp(values.type):
            return moved.cast(values.type)
        has_time = pc.any(
            pc.not_equal(pc.cast(stamps, pa.date32()).cast(pa.timestamp("us")), stamps)
        )
        if has_time.as_py():
            return pc.strftime(moved, format="%Y-%m-%d %H:%M:%S")
        return pc.strftime(moved, format="%Y-%m-%d")

    def apply_table(
        self, table: pa.Table, columns: list[str], subject: str, context: OperatorContext
    ) -> pa.Table:
        """A copy of ``table`` with every column in ``columns`` shifted by ``subject``."""
        for name in [*columns, subject]:
            if name not in table.column_names:
                raise SchemaError(f"the table has no column {name!r}")
        subjects = table.column(subject).combine_chunks()
        out = table
        for name in columns:
            here = OperatorContext(context.purpose, name, context.keys, context.as_of)
            shifted = self.shift(table.column(name).combine_chunks(), subjects, here)
            out = out.set_column(out.column_names.index(name), name, shifted)
        return out
