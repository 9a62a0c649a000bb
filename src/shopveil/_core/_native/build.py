"""Compile the batch HMAC kernel in place: ``python src/shopveil/_core/_native/build.py``.

The kernel is optional: without it :mod:`shopveil._core.prf` falls back to pure Python (the
same tokens, about ten times slower). This script is what a build hook runs at install
time; it needs a C compiler and the Python headers, nothing else.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["build"]

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "hmac_sha256.c"


def target() -> Path:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return HERE.parent / f"_hmac_native{suffix}"


def build(output: Path | None = None) -> Path:
    """Compile :data:`SOURCE` into ``output`` (the package folder by default); return it."""
    output = output or target()
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")[:1]
    include = sysconfig.get_paths()["include"]
    command = [
        *compiler,
        "-O3",
        "-shared",
        "-fPIC",
        "-fvisibility=hidden",
        f"-I{include}",
        str(SOURCE),
        "-o",
        str(output),
    ]
    subprocess.run(command, check=True)
    return output


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
