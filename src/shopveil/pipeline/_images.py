"""Columns of image paths in a file release: faces redacted into a folder beside it.

A policy gives a column of image paths the technique ``redact_faces``
(:class:`~shopveil.mask.RedactFaces`). In a file release each image the column names is
read (a relative path from the input table's folder), its faces are redacted by the
detector of :mod:`shopveil.vision`, and it is written without any metadata (EXIF, GPS)
into ``OUTPUT.images/`` under a numbered name, so the file name of the original, which
may name a person, is not released; the column then holds the new path, relative to the
output's folder (``released.csv.images/000001.jpg``). The same path in several rows is
redacted once.

The images are written into a staging folder first and moved into place just before
the output itself, so a run that fails (a corrupt image, a missing file, a gate) leaves
neither the table nor any image behind.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa

from shopveil._core.operators import OperatorContext, string_values
from shopveil.errors import SinkError, SourceError
from shopveil.mask import RedactFaces
from shopveil.policy import Plan

if TYPE_CHECKING:
    from shopveil.vision import FaceDetector

__all__ = ["ImageRelease", "has_image_columns", "image_release", "images_folder"]


def images_folder(output: Path) -> Path:
    """Where a release to ``output`` puts its redacted images: ``OUTPUT.images``."""
    return output.with_name(output.name + ".images")


def has_image_columns(plan: Plan) -> bool:
    """Whether ``plan`` redacts the faces of a column of image paths."""
    return any(isinstance(step.operator, RedactFaces) for step in plan.steps)


class _FaceWriter:
    """``redact_faces`` bound to a run: reads each image, writes it redacted, returns the
    new path. Holds the paths done so far, so it lives for one run only."""

    name: ClassVar[str] = RedactFaces.name

    def __init__(self, config: RedactFaces, base: Path, staging: Path, published: str) -> None:
        self.config = config
        self._base = base
        self._staging = staging
        self._published = published
        # Imported here: the vision extra is needed only by a plan with an image column.
        from shopveil.vision import FaceRedaction, RedactionMethod

        self._redaction = FaceRedaction(
            method=RedactionMethod(config.method.value), margin=float(config.margin)
        )
        self._detector: FaceDetector | None = None
        self._done: dict[str, str] = {}
        self._seen = 0

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """The released paths of the images ``values`` names (nulls stay null)."""
        paths = string_values(values, context.column, "the path of an image file in each row")
        out: list[str | None] = []
        for value in paths.to_pylist():
            self._seen += 1
            if value is None or not value.strip():
                out.append(None)
                continue
            name = self._done.get(value)
            if name is None:
                name = self._write(value, context.column)
            out.append(f"{self._published}/{name}")
        return pa.array(out, type=pa.string())

    def _write(self, value: str, column: str) -> str:
        source = Path(value)
        if not source.is_absolute():
            source = self._base / source
        name = f"{len(self._done) + 1:06d}{source.suffix.lower()}"
        from shopveil.vision import FaceDetector, redact_image_file

        if self._detector is None:
            self._detector = FaceDetector()
        try:
            redact_image_file(
                source, self._staging / name, detector=self._detector, policy=self._redaction
            )
        except SourceError as exc:
            # The error names the file, and a file name may name a person: say the row.
            reason = str(exc).partition(": ")[2] or "cannot read it"
            raise SourceError(
                f"column {column!r}, row {self._seen}: the image it names: {reason}; "
                "nothing was written"
            ) from None
        self._done[value] = name
        return name


@dataclasses.dataclass(frozen=True)
class ImageRelease:
    """A plan bound to a staging folder for its images, and where they will be published."""

    plan: Plan
    staging: Path | None
    target: Path

    def publish(self) -> None:
        """Move the redacted images into ``target``, replacing an earlier release's."""
        if self.staging is None:
            return
        old = None
        try:
            if self.target.exists():
                old = self.target.with_name(f".{self.target.name}.{secrets.token_hex(4)}.old")
                os.replace(self.target, old)
            os.replace(self.staging, self.target)
        except OSError as exc:
            raise SinkError(f"cannot publish {self.target.name}: {exc.strerror}") from exc
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def image_release(plan: Plan, input: Path, output: Path) -> Iterator[ImageRelease]:
    """``plan`` with its ``redact_faces`` steps bound to a staging folder beside ``output``.

    Call :meth:`ImageRelease.publish` once the release is otherwise complete; if the block
    fails, or ends without publishing, the staging folder is removed.
    """
    target = images_folder(output)
    if not has_image_columns(plan):
        yield ImageRelease(plan, None, target)
        return
    staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise SinkError(f"cannot write beside {output.name}: {exc.strerror}") from exc
    steps = tuple(
        dataclasses.replace(
            step,
            operator=_FaceWriter(step.operator, input.parent, staging, target.name),
        )
        if isinstance(step.operator, RedactFaces)
        else step
        for step in plan.steps
    )
    try:
        yield ImageRelease(dataclasses.replace(plan, steps=steps), staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
