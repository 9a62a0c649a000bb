"""Writing outputs whole or not at all: a temporary file beside the target, renamed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from shopveil.errors import SinkError

__all__ = ["staged"]


@contextmanager
def staged(targets: list[Path]) -> Iterator[list[Path]]:
    """Temporary paths for ``targets``, renamed onto them only if the block succeeds.

    Each temporary path sits in its target's folder and keeps its suffix (encoders pick
    the format from it). On any error every temporary file is removed and no target is
    touched; an existing target is replaced only at the end, by an atomic rename.
    """
    temps = [
        target.with_name(f".{target.stem}.{secrets.token_hex(4)}.tmp{target.suffix}")
        for target in targets
    ]
    try:
        yield temps
        for temp in temps:
            if not temp.exists():
                raise SinkError(f"{temp.name}: the encoder wrote nothing; nothing was published")
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except OSError as exc:
        raise SinkError(f"cannot write {exc.filename or 'the output'}: {exc.strerror}") from exc
    finally:
        for temp in temps:
            with suppress(FileNotFoundError):
                temp.unlink()
