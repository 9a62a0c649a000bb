"""Hatchling build hook: compile the batch HMAC kernel into the wheel when it can.

Enabled from ``pyproject.toml``::

    [tool.hatch.build.targets.wheel.hooks.custom]
    path = "src/shopveil/_core/_native/hatch_build.py"

Without a C compiler the build still succeeds and the package uses its pure-Python
kernel (same tokens, slower). Used at build time only; nothing imports it at run time.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

__all__ = ["NativeKernelHook"]


class NativeKernelHook(BuildHookInterface):
    """Runs ``build.py`` next to this file and ships its output in a platform wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Build the kernel and mark the wheel as platform-specific."""
        script = Path(__file__).resolve().parent / "build.py"
        spec = importlib.util.spec_from_file_location("_shopveil_build_native", script)
        if spec is None or spec.loader is None:
            return
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            built = module.build()
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"shopveil: native kernel not built ({exc}); pure Python it is", file=sys.stderr)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from src/ directly
            build_data["force_include"][str(built)] = f"shopveil/_core/{built.name}"
