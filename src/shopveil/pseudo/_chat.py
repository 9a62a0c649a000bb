"""PII in chat messages replaced as they arrive, consistently within a conversation.

A :class:`ChatRedactor` holds a :class:`TextPolicy` and a key; each
:meth:`ChatRedactor.conversation` keeps its own table of replacements, so within one
conversation the same person gets the same fake name (and a surname mentioned alone
later gets the same fake surname), the same address the same fake address; across
conversations the fakes differ. With a caller's key the fakes are a keyed function of
the conversation id and the value (the same file redacted twice gives the same output);
without one, each conversation draws a fresh random key.

Each kind is replaced by policy: a realistic fake (``PSEUDONYM``: names, addresses,
cities, emails and phones get fakes of their kind, every other kind a numbered label
such as ``[card_number 1]``), a label (``LABEL``: ``[person_name]``) or a mask
(``MASK``: each letter and digit becomes ``*``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from types import MappingProxyType

import pyarrow as pa

from shopveil._core import Kind
from shopveil.detect import TextEngine, TextSpan, find_text_pii
from shopveil.errors import ParameterError, SchemaError

__all__ = ["ChatRedactor", "Conversation", "TextAction", "TextPolicy", "redact_columns"]


class TextAction(StrEnum):
    """What a span of PII in text becomes."""

    PSEUDONYM = "pseudonym"
    """A fake of the same kind, the same for the same value within a conversation."""
    LABEL = "label"
    """The kind in brackets: ``[person_name]``."""
    MASK = "mask"
    """Each letter and digit replaced by ``*``; spaces and punctuation kept."""


@dataclass(frozen=True)
class TextPolicy:
    """How each kind of PII in text is replaced, and how it is found.

    Parameters
    ----------
    action
        What every kind becomes unless ``per_kind`` says otherwise.
    per_kind
        Actions for single kinds, e.g. ``{Kind.CARD_NUMBER: TextAction.MASK}``.
    engine
        ``TextEngine.MODEL`` (the default: rules plus the entity model, the ``text``
        extra) or ``TextEngine.RULES``.
    """

    action: TextAction = TextAction.PSEUDONYM
    per_kind: Mapping[Kind, TextAction] = field(default_factory=dict, hash=False)
    engine: TextEngine = TextEngine.MODEL

    def __post_init__(self) -> None:
        if not isinstance(self.action, TextAction):
            raise ParameterError(
                f"action={self.action!r} is not a TextAction; use one of "
                f"{', '.join(a.value for a in TextAction)}"
            )
        if not isinstance(self.engine, TextEngine):
            raise ParameterError(
                f"engine={self.engine!r} is not a TextEngine; use TextEngine.RULES or .MODEL"
            )
        for kind, action in self.per_kind.items():
            if not isinstance(kind, Kind) or not isinstance(action, TextAction):
                raise ParameterError(
                    f"per_kind={{{kind!r}: {action!r}}} needs a Kind and a TextAction, e.g. "
                    "{Kind.CARD_NUMBER: TextAction.MASK}"
                )
        object.__setattr__(self, "per_kind", MappingProxyType(dict(self.per_kind)))

    def action_for(self, kind: Kind) -> TextAction:
        """The action for ``kind``."""
        return self.per_kind.get(kind, self.action)


class ChatRedactor:
    """Redacts chat messages by a :class:`TextPolicy`, one conversation at a time.

    Parameters
    ----------
    policy
        What to find and what each kind becomes.
    key
        At least 16 bytes: fakes become a keyed function of the conversation id and the
        value. ``None`` draws a random key per conversation.
    """

    def __init__(self, policy: TextPolicy | None = None, *, key: bytes | None = None) -> None:
        if key is not None and (not isinstance(key, bytes) or len(key) < 16):
            raise ParameterError("key must be at least 16 bytes, e.g. secrets.token_bytes(32)")
        self.policy = policy if policy is not None else TextPolicy()
        self._key = key

    def conversation(self, conversation_id: str = "") -> Conversation:
        """A new conversation: its own replacements, kept while it lives."""
        if self._key is None:
            key = secrets.token_bytes(32)
        else:
            key = hmac.new(self._key, conversation_id.encode("utf-8"), hashlib.sha256).digest()
        return Conversation(self.policy, key)

    def stream(self, messages: Iterable[str], conversation_id: str = "") -> Iterator[str]:
        """Redact ``messages`` of one conversation lazily, in order."""
        conversation = self.conversation(conversation_id)
        for message in messages:
            yield conversation.redact(message)


class Conversation:
    """One conversation's replacements; create it with :meth:`ChatRedactor.conversation`."""

    def __init__(self, policy: TextPolicy, key: bytes) -> None:
        self._policy = policy
        self._key = key
        self._fakes: dict[tuple[str, str], str] = {}
        self._used: set[tuple[str, str]] = set()
        self._labels: dict[tuple[Kind, str], int] = {}

    def redact(self, message: str) -> str:
        """``message`` with every span of PII replaced by policy."""
        if not isinstance(message, str):
            raise ParameterError(f"a chat message must be a str, got {type(message).__name__}")
        spans = find_text_pii(message, engine=self._policy.engine)
        named = self._named_before(message, spans)
        if named:
            bounds = {(n.start, n.end) for n in named}
            spans = sorted([s for s in spans if (s.start, s.end) not in bounds] + named)
        parts: list[str] = []
        cursor = 0
        for span in spans:
            parts.append(message[cursor : span.start])
            parts.append(self._replace(message[span.start : span.end], span))
            cursor = span.end
        parts.append(message[cursor:])
        return "".join(parts)

    def _named_before(self, message: str, spans: list[TextSpan]) -> list[TextSpan]:
        """Capitalized words of names seen in earlier messages ("Yefremova here again"),
        also where the model took the word for an organisation or a place."""
        known = {value for kind, value in self._fakes if kind in ("first", "last")}
        if not known:
            return []
        found = []
        for match in _WORD.finditer(message):
            word, (start, end) = match.group(), match.span()
            if (
                word[0].isupper()
                and word.casefold() in known
                and not any(
                    s.start < end
                    and start < s.end
                    and not (s.kind in _REREAD and (s.start, s.end) == (start, end))
                    for s in spans
                )
            ):
                found.append(TextSpan(start, end, Kind.PERSON_NAME))
        return found

    def _replace(self, value: str, span: TextSpan) -> str:
        action = self._policy.action_for(span.kind)
        if action is TextAction.LABEL:
            return f"[{span.kind.value}]"
        if action is TextAction.MASK:
            return re.sub(r"\w", "*", value)
        if span.kind is Kind.PERSON_NAME:
            return self._fake_name(value)
        if span.kind is Kind.STREET_ADDRESS:
            return self._fake("address", _normal(value), _address_pool())
        if span.kind is Kind.CITY:
            return self._fake("city", _normal(value), _city_pool())
        if span.kind is Kind.EMAIL:
            local = self._fake("email", _normal(value), _last_pool()).casefold()
            return f"{local}@example.com"
        if span.kind is Kind.PHONE:
            return self._fake_digits(value)
        key = (span.kind, _normal(value))
        number = self._labels.setdefault(key, len(self._labels) + 1)
        return f"[{span.kind.value} {number}]"

    def _fake_name(self, value: str) -> str:
        """Each word of a name mapped on its own: a surname seen alone later ("Yefremova")
        gets the surname its full name got."""
        words = re.findall(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*\.?", value)
        if not words:
            return self._fake("last", _normal(value), _last_pool())
        fakes = []
        for position, word in enumerate(words):
            bare = word.rstrip(".")
            folded = bare.casefold()
            if len(bare) == 1:
                fakes.append(self._fake("initial", folded, _initials()) + ".")
            elif len(words) == 1 and ("first", folded) in self._fakes:
                fakes.append(self._fakes[("first", folded)])  # "Faina" after "Faina Yefremova"
            elif len(words) == 1 and ("last", folded) not in self._fakes and _is_first(folded):
                # A first name alone ("Maria again") gets the fake it gets before a surname:
                # keyed, so the same in another conversation under the same key.
                fakes.append(self._fake("first", folded, _first_pool()))
            elif position == 0 and len(words) > 1:
                fakes.append(self._fake("first", folded, _first_pool()))
            else:
                fakes.append(self._fake("last", folded, _last_pool()))
        return " ".join(fakes)

    def _fake(self, kind: str, value: str, pool: tuple[str, ...]) -> str:
        known = self._fakes.get((kind, value))
        if known is not None:
            return known
        digest = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
        index = int.from_bytes(digest[:8], "big") % len(pool)
        # Two values never share a fake while the pool has room, and no value is its own
        # fake: probe to the next one.
        for step in range(len(pool)):
            fake = pool[(index + step) % len(pool)]
            if (kind, fake) not in self._used and fake.casefold() != value:
                break
        self._used.add((kind, fake))
        self._fakes[(kind, value)] = fake
        return fake

    def _fake_digits(self, value: str) -> str:
        known = self._fakes.get(("digits", value))
        if known is not None:
            return known
        digest = hmac.new(self._key, f"digits\x00{value}".encode(), hashlib.sha256).digest()
        digits = iter(str(int.from_bytes(digest, "big")).zfill(77))
        # The layout and a leading "+" with its country code stay; other digits change.
        country = re.match(r"\+[0-9]{1,3}", value)
        head = country.group() if country else ""
        fake = head + "".join(
            next(digits) if char.isdigit() else char for char in value[len(head) :]
        )
        self._fakes[("digits", value)] = fake
        return fake


_REREAD = frozenset({Kind.ORGANIZATION, Kind.CITY, Kind.COUNTRY, Kind.PERSON_NAME})
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def _normal(value: str) -> str:
    return " ".join(value.casefold().split())


@cache
def _first_pool() -> tuple[str, ...]:
    from faker.providers.person.en_US import Provider

    return tuple(sorted(Provider.first_names))


@cache
def _first_folded() -> frozenset[str]:
    return frozenset(name.casefold() for name in _first_pool())


def _is_first(folded: str) -> bool:
    return folded in _first_folded()


@cache
def _last_pool() -> tuple[str, ...]:
    from faker.providers.person.en_US import Provider

    return tuple(sorted(Provider.last_names))


@cache
def _initials() -> tuple[str, ...]:
    return tuple("ABCDEFGHIJKLMNOPRSTW")


@cache
def _city_pool() -> tuple[str, ...]:
    from faker.providers.address.en_US import Provider

    suffixes = sorted(Provider.city_suffixes)
    return tuple(f"{last}{suffix}" for last in _last_pool()[:200] for suffix in suffixes)


@cache
def _address_pool() -> tuple[str, ...]:
    from faker.providers.address.en_US import Provider

    suffixes = sorted(Provider.street_suffixes)
    return tuple(
        f"{(i * 37) % 9000 + 10} {last} {suffixes[i % len(suffixes)]}"
        for i, last in enumerate(_last_pool())
    )


def redact_columns(
    table: pa.Table,
    fields: Iterable[str],
    redactor: ChatRedactor,
    *,
    conversation_field: str | None = None,
    advance: Callable[[int], None] | None = None,
) -> pa.Table:
    """``table`` with the text of ``fields`` redacted, row by row.

    Rows that share a value of ``conversation_field`` are one conversation (consistent
    fakes across them); without it, the whole table is one conversation. ``advance`` is
    called with the number of rows done, for a progress bar.
    """
    names = list(fields)
    for name in [*names, *([conversation_field] if conversation_field else [])]:
        if name not in table.column_names:
            raise SchemaError(
                f"column {name!r} is not in the table; it has {', '.join(table.column_names)}"
            )
    for name in names:
        column_type = table.schema.field(name).type
        if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
            raise SchemaError(f"column {name!r} holds {column_type}, not text; name a text column")
    groups = (
        table.column(conversation_field).cast(pa.string()).to_pylist()
        if conversation_field
        else [""] * table.num_rows
    )
    conversations: dict[str, Conversation] = {}
    columns = {name: table.column(name).to_pylist() for name in names}
    for row, group in enumerate(groups):
        key = "" if group is None else group
        conversation = conversations.get(key)
        if conversation is None:
            conversation = conversations[key] = redactor.conversation(key)
        for name in names:
            value = columns[name][row]
            if value is not None:
                columns[name][row] = conversation.redact(value)
        if advance is not None and (row + 1) % 100 == 0:
            advance(100)
    if advance is not None:
        advance(table.num_rows % 100)
    for name in names:
        index = table.column_names.index(name)
        column_type = table.schema.field(name).type
        table = table.set_column(index, name, pa.array(columns[name], type=column_type))
    return table
