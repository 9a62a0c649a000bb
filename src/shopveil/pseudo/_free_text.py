"""A column of free text (support chats, reviews) with its PII replaced, by policy.

The record-level face of :class:`~shopveil.pseudo.ChatRedactor`: each value is one
conversation, redacted by a :class:`~shopveil.pseudo.TextPolicy`. Pseudonyms are a keyed
function of the value under a key bound to the release's purpose and the operator's
``domain``, so the same person gets the same fake name in every row of the release (and
in every batch, whatever the engine), while a release for another purpose, role or
jurisdiction gets other fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import pyarrow as pa

from shopveil._core import Kind
from shopveil._core.operators import OperatorContext, string_values
from shopveil.detect import TEXT_KINDS, TextEngine, redact_text
from shopveil.errors import ParameterError
from shopveil.pseudo._chat import ChatRedactor, TextAction, TextPolicy

__all__ = ["RedactText", "redact_messages"]


def _choice(enum: Any, value: object, parameter: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ParameterError(f"{parameter} must be one of {choices}, got {value!r}") from None


@dataclass(frozen=True)
class RedactText:
    """Replace the PII inside free text by a label, a mask or a consistent pseudonym.

    Parameters
    ----------
    action
        ``pseudonym`` (a fake of the same kind: the same value, the same fake across
        the release), ``label`` (``[person_name]``) or ``mask`` (letters and digits
        become ``*``).
    engine
        ``model`` (patterns plus the named-entity model for names, places and
        organisations; the ``text`` extra) or ``rules`` (patterns and word lists only).
    per_kind
        Actions for single kinds, e.g. ``{card_number: mask}``.
    domain
        The key domain of the pseudonyms; left open, the policy compiler binds it to
        the column's kind, jurisdiction and role, as it does for tokens.
    """

    name: ClassVar[str] = "redact_text"

    action: TextAction = TextAction.PSEUDONYM
    engine: TextEngine = TextEngine.MODEL
    per_kind: Mapping[Kind, TextAction] = field(default_factory=dict, hash=False)
    domain: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", _choice(TextAction, self.action, "action"))
        object.__setattr__(self, "engine", _choice(TextEngine, self.engine, "engine"))
        if not isinstance(self.per_kind, Mapping):
            raise ParameterError(
                f"per_kind must map kinds to actions, e.g. {{card_number: mask}}, "
                f"got {type(self.per_kind).__name__}"
            )
        kinds = {}
        for kind, action in self.per_kind.items():
            found = _choice(Kind, kind, "a per_kind key")
            if found not in TEXT_KINDS:
                raise ParameterError(
                    f"per_kind names {found.value!r}, which is not found in text; use one of "
                    f"{', '.join(k.value for k in TEXT_KINDS)}"
                )
            kinds[found] = _choice(TextAction, action, f"per_kind[{found.value!r}]")
        object.__setattr__(self, "per_kind", MappingProxyType(kinds))
        if self.domain is not None and (not isinstance(self.domain, str) or not self.domain):
            raise ParameterError("domain must be a non-empty name, e.g. 'chats'")

    @property
    def policy(self) -> TextPolicy:
        """The text policy each value is redacted by."""
        return TextPolicy(self.action, self.per_kind, self.engine)

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        values = string_values(values, context.column, "free text")
        policy = self.policy
        key = None
        if TextAction.PSEUDONYM in (policy.action, *policy.per_kind.values()):
            key = context.require_keys().derive(
                context.purpose, f"text:{self.domain or context.column}"
            )
        redactor = ChatRedactor(policy, key=key)
        # One conversation per value: what a row says never depends on the rows around it.
        out = [
            None if text is None else redactor.conversation().redact(text)
            for text in values.to_pylist()
        ]
        return pa.array(out, type=values.type)


def redact_messages(
    texts: Sequence[str],
    *,
    engine: TextEngine = TextEngine.MODEL,
    conversation_id: str | None = None,
    key: bytes | None = None,
) -> list[str]:
    """``texts`` with their PII replaced: by labels (``[person_name]``), or, with a
    ``conversation_id``, by fakes consistent across the texts of that conversation.

    With ``key`` (at least 16 bytes) the fakes of a conversation are a keyed function of
    its id and the value, so later calls for the same conversation give the same fakes;
    a conversation id needs a key. Labels with ``TextEngine.RULES`` take the array-wide
    path of :func:`~shopveil.detect.redact_text`.
    """
    if conversation_id is None:
        if engine is TextEngine.RULES:
            return [str(t) for t in redact_text(pa.array(texts, pa.string())).to_pylist()]
        labels = ChatRedactor(TextPolicy(TextAction.LABEL, engine=engine))
        return [labels.conversation().redact(text) for text in texts]
    if key is None:
        raise ParameterError("a conversation_id needs a key to make its pseudonyms with")
    conversation = ChatRedactor(TextPolicy(engine=engine), key=key).conversation(conversation_id)
    return [conversation.redact(text) for text in texts]
