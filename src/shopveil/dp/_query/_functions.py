"""What a DP query's expressions may call, and how they are evaluated without failing.

Whether a query fails must never depend on the data: an error raised by one person's
row (a division by zero, a text that does not convert, an overflow) would tell the
analyst something about that row at no privacy cost. So every expression that could
fail on some value is evaluated under DuckDB's ``TRY``: a row whose expression fails
gets NULL there, so it is excluded by WHERE, left out of COUNT(expr), SUM, AVG and the
quantiles, and lands in the NULL group of a GROUP BY key. What can fail only because of
the query text (an unknown strftime specifier, a type error) fails while binding,
before the ledger is charged, and never depends on the data.

The arguments that DuckDB needs as constants (the date part of ``date_trunc``, the
format of ``strftime``, the digits of ``round``) must be literals, so that such a
failure is a property of the query alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopveil.errors import QueryError

__all__ = ["FUNCTIONS", "TYPES", "check_call", "guarded"]


@dataclass(frozen=True)
class Signature:
    """How many arguments a function takes, and which must be literals."""

    min_args: int
    max_args: int | None  # None: any number
    literal: tuple[int, ...] = ()  # positions that must be a literal
    what: str = ""  # the literal's meaning, for the error message


FUNCTIONS: dict[str, Signature] = {
    "abs": Signature(1, 1),
    "round": Signature(1, 2, (1,), "the number of digits"),
    "floor": Signature(1, 1),
    "ceil": Signature(1, 1),
    "lower": Signature(1, 1),
    "upper": Signature(1, 1),
    "trim": Signature(1, 2),
    "substr": Signature(2, 3),
    "substring": Signature(2, 3),
    "length": Signature(1, 1),
    "year": Signature(1, 1),
    "month": Signature(1, 1),
    "day": Signature(1, 1),
    "hour": Signature(1, 1),
    "dayofweek": Signature(1, 1),
    "date_trunc": Signature(2, 2, (0,), "the date part, e.g. 'month'"),
    "strftime": Signature(2, 2, (1,), "the format, e.g. '%Y-%m'"),
    "coalesce": Signature(1, None),
    "least": Signature(1, None),
    "greatest": Signature(1, None),
    "concat": Signature(1, None),
    "nullif": Signature(2, 2),
    "ln": Signature(1, 1),
    "sqrt": Signature(1, 1),
}
TYPES = frozenset({"double", "integer", "bigint", "varchar", "date", "timestamp", "decimal"})


def check_call(name: str, args: list[tuple[str, bool]]) -> None:
    """Refuse a call to ``name`` whose arguments (``(sql, is_literal)``) do not fit."""
    signature = FUNCTIONS.get(name)
    if signature is None:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise QueryError(f"function {name!r} is not allowed; use one of: {allowed}")
    count = len(args)
    if count < signature.min_args or (
        signature.max_args is not None and count > signature.max_args
    ):
        most = "any number of" if signature.max_args is None else str(signature.max_args)
        raise QueryError(
            f"{name}() takes {signature.min_args} to {most} arguments, got {count}; "
            "see 'What a query may contain' in docs/dp-queries.md"
        )
    for position in signature.literal:
        if position < count and not args[position][1]:
            raise QueryError(
                f"{name}(): argument {position + 1} ({signature.what}) must be a literal, "
                "not a column or an expression"
            )


def guarded(sql: str, plain: bool) -> str:
    """``sql`` evaluated so that a value it fails on gives NULL instead of an error.

    ``plain`` expressions (a bare column or a literal) cannot fail and skip ``TRY``,
    which costs DuckDB a little even when nothing fails.
    """
    return sql if plain else f"TRY({sql})"
