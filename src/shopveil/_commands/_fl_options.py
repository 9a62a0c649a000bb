"""Options ``shopveil fl simulate`` and ``shopveil fl serve`` read alike."""

from __future__ import annotations

from shopveil.errors import ParameterError

__all__ = ["choice", "compression"]


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a one-line error naming ``name``."""
    if value not in allowed:
        raise ParameterError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def compression(value: str) -> tuple[str, int, float]:
    """``none``, ``quantize:BITS`` or ``topk:FRACTION[:BITS]``."""
    kind, _, rest = value.partition(":")
    try:
        if kind == "none" and not rest:
            return "none", 8, 0.25
        if kind == "quantize":
            return "quantize", int(rest or 4), 0.25
        if kind == "topk":
            fraction, _, bits = rest.partition(":")
            return "topk", int(bits or 8), float(fraction or 0.25)
    except ValueError:
        pass
    raise ParameterError(
        f"--compress {value!r} is not none, quantize:BITS or topk:FRACTION[:BITS]; "
        "e.g. --compress quantize:4"
    )
