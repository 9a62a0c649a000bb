"""``shopveil redact-image`` and ``redact-video``: faces blurred, pixelated or filled."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shopveil._commands._common import console, err_console, translate_errors

if TYPE_CHECKING:
    from rich.progress import TaskID

    from shopveil.vision import FaceRedaction

__all__ = ["register"]


class Method(enum.StrEnum):
    """The redaction methods, as the command line spells them."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    FILL = "fill"


def register(app: typer.Typer) -> None:
    app.command("redact-image")(redact_image)
    app.command("redact-video")(redact_video)


_METHOD = typer.Option("--method", help="How faces are hidden: blur, pixelate or fill.")
_MARGIN = typer.Option(help="Each face box grows by this fraction of its size on every side.")
_JSON = typer.Option("--json", help="Print JSON (and no progress bar).")


def _policy(method: Method, margin: float) -> FaceRedaction:
    from shopveil.vision import FaceRedaction, RedactionMethod

    return FaceRedaction(method=RedactionMethod(method.value), margin=margin)


@translate_errors
def redact_image(
    inputs: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, WebP, BMP, TIFF).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the outputs.")],
    method: Annotated[Method, _METHOD] = Method.BLUR,
    margin: Annotated[float, _MARGIN] = 0.3,
    json_output: Annotated[bool, _JSON] = False,
) -> None:
    """Redact the faces in images and strip their metadata (EXIF, GPS), into a folder.

    Each output keeps its input's name and format. Outputs appear only when every input
    was redacted; a corrupt or non-image file leaves the folder as it was.
    """
    from shopveil.vision import redact_image_files

    results = redact_image_files(list(inputs), output, policy=_policy(method, margin))
    if json_output:
        console.print_json(json.dumps({"images": [r.to_dict() for r in results]}))
        return
    faces = sum(len(r.faces) for r in results)
    console.print(
        f"{len(results)} image(s) written to [bold]{output}[/bold]: {faces} face(s) "
        f"redacted ({method.value}), metadata stripped."
    )


@contextmanager
def _frame_progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("frames"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled or not err_console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = "finding faces" if stage == "detect" else "redacting"
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield report


@translate_errors
def redact_video(
    source: Annotated[Path, typer.Argument(help="A video file (MP4, AVI, MOV).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The redacted video (.mp4, .m4v, .mov or .avi).")
    ],
    method: Annotated[Method, _METHOD] = Method.BLUR,
    margin: Annotated[float, _MARGIN] = 0.3,
    detect_every: Annotated[
        int, typer.Option(help="Detect faces in one frame in N (tracking covers the rest).")
    ] = 1,
    json_output: Annotated[bool, _JSON] = False,
) -> None:
    """Redact the faces in every frame of a video, tracked between detections.

    Faces are detected in every frame and carried across frames the detector misses.
    The output has the input's size and frame rate, no audio, and appears only complete.
    """
    from shopveil.vision import redact_video as run

    with _frame_progress(not json_output) as report:
        result = run(
            source,
            output,
            policy=_policy(method, margin),
            progress=report,
            detect_every=detect_every,
        )
    if json_output:
        console.print_json(json.dumps(result.to_dict()))
        return
    summary = result.to_dict()
    console.print(
        f"{result.frames} frames written to [bold]{output}[/bold]; faces redacted "
        f"({method.value}) in {summary['frames_redacted']} of them."
    )
