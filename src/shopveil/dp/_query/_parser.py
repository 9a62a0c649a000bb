"""The SQL subset DP queries accept, parsed into an immutable :class:`QuerySpec`.

``SELECT agg [AS name], ... FROM table [WHERE cond] [GROUP BY expr, ...]`` where an agg
is ``COUNT(*)``, ``COUNT(expr)``, ``COUNT(DISTINCT expr)``, ``SUM(expr)``, ``AVG(expr)``,
``MEDIAN(expr)``, ``QUANTILE(expr, q)`` or ``HISTOGRAM(expr, low, high, bins)``, and the
other select items are GROUP BY expressions. Expressions use columns, literals,
arithmetic and a short list of scalar functions; they are re-rendered from tokens, so
nothing the user typed reaches DuckDB unchecked. Everything else (``*``, joins,
subqueries, ORDER BY, LIMIT, HAVING, window functions) is refused with a
:class:`~shopveil.errors.QueryError` that says what is allowed.
"""

from __future__ import annotations

import re

from shopveil.dp._query._functions import TYPES, check_call
from shopveil.dp._query._spec import Aggregate, AggregateFunction, Expr, GroupKey, QuerySpec
from shopveil.errors import QueryError

__all__ = ["parse_expression", "parse_query", "quote_identifier"]

AGGREGATES = frozenset({"count", "sum", "avg", "median", "quantile", "histogram"})  # SQL names
KEYWORDS = frozenset(
    {
        "select", "from", "where", "group", "by", "as", "and", "or", "not", "in", "between",
        "like", "is", "null", "distinct", "join", "on", "order", "limit", "having", "union",
        "cast", "true", "false", "with", "over", "inner", "left", "right", "full", "cross",
        "using", "offset", "except", "intersect", "all",
    }
)  # fmt: skip

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|<>|!=|=|<|>|\*|\+|-|/|%|\(|\)|,|;|\.)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"unexpected character at position {pos + 1} of the query")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    # token helpers
    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else ("eof", "")

    def word(self, offset: int = 0) -> str:
        kind, value = self.peek(offset)
        return value.lower() if kind == "word" else ""

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def accept(self, value: str) -> bool:
        kind, text = self.peek()
        if (kind == "word" and text.lower() == value) or (kind == "op" and text == value):
            self.pos += 1
            return True
        return False

    def expect(self, value: str, what: str) -> None:
        if not self.accept(value):
            found = self.peek()[1] or "the end of the query"
            raise QueryError(f"expected {what}, found {found!r}")

    def identifier(self, what: str) -> str:
        kind, value = self.take()
        if kind == "quoted":
            return value[1:-1].replace('""', '"')
        if kind == "word" and value.lower() not in KEYWORDS:
            return value
        raise QueryError(f"expected {what}, found {value or 'the end of the query'!r}")

    # grammar
    def query(self) -> QuerySpec:
        self.expect("select", "SELECT")
        if self.peek() == ("op", "*"):
            raise QueryError("SELECT * would release raw rows; select aggregates such as COUNT(*)")
        items: list[Aggregate | GroupKey] = [self.select_item()]
        while self.accept(","):
            items.append(self.select_item())
        self.expect("from", "FROM")
        if self.peek() == ("op", "("):
            raise QueryError("subqueries are not supported; query one table")
        table = self.identifier("a table name")
        if self.word() in ("join", "inner", "left", "right", "full", "cross") or self.peek() == (
            "op",
            ",",
        ):
            raise QueryError(
                "joins are refused: joining on identifiers re-identifies people; query one table"
            )
        if self.word() == "as" or (self.peek()[0] == "word" and self.word() not in KEYWORDS):
            raise QueryError("table aliases are not supported; use the table name")
        where = None
        if self.accept("where"):
            where = self.bool_or()
        keys: list[Expr] = []
        if self.accept("group"):
            self.expect("by", "BY after GROUP")
            keys.append(self.bool_or())
            while self.accept(","):
                keys.append(self.bool_or())
        word = self.word()
        if word in ("order", "limit", "having", "union", "offset", "except", "intersect"):
            raise QueryError(f"{word.upper()} is not supported in DP queries")
        self.accept(";")
        if self.peek()[0] != "eof":
            raise QueryError(f"unexpected {self.peek()[1]!r} after the query")
        return _assemble(table, items, where, keys)

    def select_item(self) -> Aggregate | GroupKey:
        if self.word() in AGGREGATES and self.peek(1) == ("op", "("):
            agg = self.aggregate()
            return Aggregate(agg.func, agg.arg, self.alias() or agg.alias, agg.quantile, agg.bins)
        expr = self.bool_or()
        return GroupKey(expr, self.alias() or expr.text)

    def alias(self) -> str | None:
        if self.accept("as"):
            return self.identifier("an alias after AS")
        return None

    def aggregate(self) -> Aggregate:
        name = self.take()[1].lower()
        self.expect("(", "(")
        if name == "count" and self.accept("*"):
            self.expect(")", ")")
            return Aggregate(AggregateFunction.COUNT, None, "count")
        if name == "count" and self.accept("distinct"):
            arg = self.expr()
            self.expect(")", ")")
            return Aggregate(
                AggregateFunction.COUNT_DISTINCT, arg, f"count_distinct_{_slug(arg.text)}"
            )
        arg = self.expr()
        quantile: float | None = None
        bins: tuple[float, float, int] | None = None
        if name == "quantile":
            self.expect(",", "a quantile in (0, 1) after the column")
            quantile = self.number("the quantile")
            if not 0 < quantile < 1:
                raise QueryError(f"QUANTILE needs q in (0, 1), got {quantile}")
        elif name == "median":
            name, quantile = "quantile", 0.5
        elif name == "histogram":
            self.expect(",", "HISTOGRAM(column, low, high, bins)")
            low = self.number("the histogram's low edge")
            self.expect(",", "HISTOGRAM(column, low, high, bins)")
            high = self.number("the histogram's high edge")
            self.expect(",", "HISTOGRAM(column, low, high, bins)")
            count = self.number("the number of bins")
            if not (high > low and count == int(count) and 1 <= count <= 10_000):
                raise QueryError("HISTOGRAM needs low < high and 1 to 10000 whole bins")
            bins = (low, high, int(count))
        self.expect(")", ")")
        default = f"{name}_{_slug(arg.text)}"
        if quantile is not None:
            default = f"q{quantile:g}_{_slug(arg.text)}".replace(".", "")
        return Aggregate(AggregateFunction(name), arg, default, quantile, bins)

    def number(self, what: str) -> float:
        sign = -1.0 if self.accept("-") else 1.0
        kind, value = self.take()
        if kind != "number":
            raise QueryError(f"expected a number for {what}, found {value!r}")
        return sign * float(value)

    # expressions: boolean layer, comparisons, arithmetic
    def bool_or(self) -> Expr:
        left = self.bool_and()
        while self.accept("or"):
            left = _join(left, "OR", self.bool_and())
        return left

    def bool_and(self) -> Expr:
        left = self.bool_not()
        while self.accept("and"):
            left = _join(left, "AND", self.bool_not())
        return left

    def bool_not(self) -> Expr:
        if self.accept("not"):
            inner = self.bool_not()
            return Expr(f"(NOT {inner.sql})", inner.columns, f"NOT {inner.text}")
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.expr()
        kind, op = self.peek()
        if kind == "op" and op in ("=", "<", ">", "<=", ">=", "<>", "!="):
            self.take()
            return _join(left, op, self.expr())
        negate = (
            "NOT " if self.word() == "not" and self.word(1) in ("in", "between", "like") else ""
        )
        if negate:
            self.take()
        if self.accept("in"):
            self.expect("(", "( after IN")
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.expect(")", ")")
            sql = f"({left.sql} {negate}IN ({', '.join(i.sql for i in items)}))"
            cols = left.columns.union(*(i.columns for i in items))
            return Expr(sql, cols, f"{left.text} {negate}IN (...)")
        if self.accept("between"):
            low = self.expr()
            self.expect("and", "AND in BETWEEN")
            high = self.expr()
            sql = f"({left.sql} {negate}BETWEEN {low.sql} AND {high.sql})"
            return Expr(sql, left.columns | low.columns | high.columns, f"{left.text} BETWEEN ...")
        if self.accept("like"):
            pattern = self.expr()
            return _join(left, f"{negate}LIKE", pattern)
        if self.accept("is"):
            neg = "NOT " if self.accept("not") else ""
            self.expect("null", "NULL after IS")
            return Expr(f"({left.sql} IS {neg}NULL)", left.columns, f"{left.text} IS {neg}NULL")
        return left

    def expr(self) -> Expr:
        left = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            left = _join(left, self.take()[1], self.term())
        return left

    def term(self) -> Expr:
        left = self.factor()
        while self.peek() in (("op", "*"), ("op", "/"), ("op", "%")):
            left = _join(left, self.take()[1], self.factor())
        return left

    def factor(self) -> Expr:
        kind, value = self.peek()
        if kind == "op" and value == "-":
            self.take()
            inner = self.factor()
            # A negated literal stays plain; a negated column can overflow (-BIGINT min).
            literal = inner.plain and not inner.columns
            return Expr(f"(-{inner.sql})", inner.columns, f"-{inner.text}", literal)
        if kind == "op" and value == "(":
            self.take()
            if self.word() == "select":
                raise QueryError("subqueries are not supported; query one table")
            inner = self.bool_or()
            self.expect(")", ")")
            return Expr(f"({inner.sql})", inner.columns, f"({inner.text})", inner.plain)
        if kind in ("number", "string"):
            self.take()
            return Expr(value, frozenset(), value, plain=True)
        if kind == "quoted":
            name = self.identifier("a column")
            return _column(name)
        word = value.lower()
        if kind == "word" and word in ("true", "false", "null"):
            self.take()
            return Expr(word.upper(), frozenset(), word.upper(), plain=True)
        if kind == "word" and word == "cast":
            return self.cast()
        if kind == "word" and self.peek(1) == ("op", "("):
            return self.call()
        if kind == "word" and word in KEYWORDS:
            raise QueryError(f"unexpected keyword {value.upper()}")
        if kind == "word":
            self.take()
            return _column(value)
        raise QueryError(f"unexpected {value or 'end of the query'!r} in an expression")

    def call(self) -> Expr:
        name = self.take()[1]
        lower = name.lower()
        if lower in AGGREGATES:
            raise QueryError(f"{name.upper()} cannot be nested inside an expression")
        self.expect("(", "(")
        args: list[Expr] = []
        if not self.accept(")"):
            args.append(self.bool_or())
            while self.accept(","):
                args.append(self.bool_or())
            self.expect(")", ")")
        if self.word() == "over":
            raise QueryError("window functions are not supported in DP queries")
        check_call(lower, [(a.sql, a.plain and not a.columns) for a in args])
        sql = f"{lower}({', '.join(a.sql for a in args)})"
        text = f"{lower}({', '.join(a.text for a in args)})"
        return Expr(sql, frozenset().union(*(a.columns for a in args)), text)

    def cast(self) -> Expr:
        self.take()
        self.expect("(", "( after CAST")
        inner = self.bool_or()
        self.expect("as", "AS in CAST")
        type_name = self.take()[1].lower()
        if type_name not in TYPES:
            raise QueryError(f"CAST to {type_name!r} is not allowed; use one of {sorted(TYPES)}")
        self.expect(")", ")")
        return Expr(f"CAST({inner.sql} AS {type_name.upper()})", inner.columns, inner.text)


def _column(name: str) -> Expr:
    quoted = '"' + name.replace('"', '""') + '"'
    return Expr(quoted, frozenset({name}), name, plain=True)


def _join(left: Expr, op: str, right: Expr) -> Expr:
    return Expr(
        f"({left.sql} {op} {right.sql})",
        left.columns | right.columns,
        f"{left.text} {op} {right.text}",
    )


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower() or "value"


def _assemble(
    table: str, items: list[Aggregate | GroupKey], where: Expr | None, keys: list[Expr]
) -> QuerySpec:
    aggregates = tuple(i for i in items if isinstance(i, Aggregate))
    aliases = {i.alias: i.expr for i in items if isinstance(i, GroupKey) and i.alias != i.expr.text}
    # GROUP BY may name a select alias (GROUP BY m for month(InvoiceDate) AS m).
    keys = [
        aliases.get(k.text, k) if len(k.columns) == 1 and k.sql.startswith('"') else k for k in keys
    ]
    key_sql = {k.sql for k in keys}
    group_keys: list[GroupKey] = []
    for item in items:
        if isinstance(item, GroupKey):
            if item.expr.sql not in key_sql:
                raise QueryError(
                    f"raw values are refused: {item.expr.text!r} is neither aggregated nor in "
                    "GROUP BY; aggregate it or group by it"
                )
            group_keys.append(item)
    if not aggregates:
        raise QueryError("a DP query needs at least one aggregate, e.g. COUNT(*)")
    for key in keys:
        if all(g.expr.sql != key.sql for g in group_keys):
            group_keys.append(GroupKey(key, key.text))
    columns = tuple(i.alias for i in items)
    if len(set(columns)) != len(columns):
        raise QueryError("two output columns have the same name; give them distinct AS aliases")
    return QuerySpec(table, aggregates, tuple(group_keys), where, columns)


def quote_identifier(name: str) -> str:
    """``name`` as a query must write it: bare when it is a plain word, else in double quotes.

    A name such as ``orders-2011`` or the keyword ``order`` is written ``"orders-2011"``
    and ``"order"``.
    """
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def parse_query(text: str) -> QuerySpec:
    """Parse a DP query; raise :class:`QueryError` for anything outside the subset."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("the query is empty; write e.g. SELECT COUNT(*) FROM orders")
    return _Parser(text).query()


def parse_expression(text: str) -> Expr:
    """Parse one scalar expression (for the builder API)."""
    parser = _Parser(text)
    expr = parser.bool_or()
    if parser.peek()[0] != "eof":
        raise QueryError(f"unexpected {parser.peek()[1]!r} in the expression {text!r}")
    return expr
