"""What the benchmark scripts share: best-of timing, the machine, a scratch keyring."""

from __future__ import annotations

import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from shopveil.keys import Keyring
from shopveil.store import Store

__all__ = ["machine", "scratch_keyring", "timed"]

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """``fn``'s last result and its best wall time over ``repeat`` runs."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best  # type: ignore[return-value]


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


@contextmanager
def scratch_keyring() -> Iterator[Keyring]:
    """A keyring with a random master key on a throwaway SQLite store."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield Keyring.open(store, master_key=secrets.token_bytes(32))
        finally:
            store.close()
