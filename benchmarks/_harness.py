"""What the benchmark scripts share: best-of timing, the machine and its load, peak memory,
a scratch keyring."""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from shopveil.keys import Keyring
from shopveil.store import Store

__all__ = [
    "load_average",
    "machine",
    "peak_rss_mb",
    "run_in_child",
    "scratch_keyring",
    "shared_data",
    "timed",
]

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """``fn``'s last result and its best wall time over ``repeat`` runs."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best  # type: ignore[return-value]


def shared_data() -> Path:
    """``../shared/data`` beside the repository, or the folder ``SHOPVEIL_SHARED_DATA`` names."""
    named = os.environ.get("SHOPVEIL_SHARED_DATA")
    return Path(named) if named else Path(__file__).resolve().parents[2] / "shared" / "data"


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages: how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def machine(load_before: Sequence[float] | None = None) -> dict[str, object]:
    """The machine, with its load averages now and, when given, at the start of the run."""
    described: dict[str, object] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
    if load_before is not None:
        described["load_avg_before"] = list(load_before)
    described["load_avg_after"] = load_average()
    return described


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux's ``VmHWM`` starts afresh in a new program; ``ru_maxrss`` would carry over the
    peak of the process that started this one.
    """
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(fn: Callable[..., object], args: tuple[object, ...], out: multiprocessing.Queue) -> None:
    try:
        result = fn(*args)
    except BaseException as exc:
        out.put((None, f"{type(exc).__name__}: {exc}"))
        raise
    out.put((result, peak_rss_mb()))


def run_in_child(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    """``fn(*args)`` in a fresh process: its result and that process's peak memory (MiB).

    ``fn`` must be a module-level function; a fresh process measures one run's peak alone,
    not the largest of everything this process did before.
    """
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(fn, args, out))
    process.start()
    result, peak = out.get()
    process.join()
    if isinstance(peak, str) or process.exitcode != 0:
        raise RuntimeError(f"the child process failed: {peak}")
    return result, peak


@contextmanager
def scratch_keyring() -> Iterator[Keyring]:
    """A keyring with a random master key on a throwaway SQLite store."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            yield Keyring.open(store, master_key=secrets.token_bytes(32))
        finally:
            store.close()
