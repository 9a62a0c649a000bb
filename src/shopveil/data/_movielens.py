"""MovieLens 100K: ratings, users and items from the GroupLens folder layout.

The licence forbids redistribution, so ShopVeil never ships or copies these files; this
module only reads a folder the user already has.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from shopveil.errors import SourceError

__all__ = ["GENRES", "MovieLens", "load_movielens"]

GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
"""The 19 genre flags of ``u.item``, in file order (used when ``u.genre`` is absent)."""

_RATINGS_SCHEMA = pa.schema(
    [
        ("user", pa.int32()),
        ("item", pa.int32()),
        ("rating", pa.int8()),
        ("timestamp", pa.timestamp("us")),
    ]
)
_USERS_SCHEMA = pa.schema(
    [
        ("user", pa.int32()),
        ("age", pa.int16()),
        ("gender", pa.string()),
        ("occupation", pa.string()),
        ("zip", pa.string()),
    ]
)
_ITEMS_SCHEMA = pa.schema(
    [
        ("item", pa.int32()),
        ("title", pa.string()),
        ("release_date", pa.date32()),
        ("genres", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class MovieLens:
    """The three MovieLens 100K tables.

    Attributes
    ----------
    ratings
        ``user``, ``item``, ``rating`` (1–5), ``timestamp``.
    users
        ``user``, ``age``, ``gender``, ``occupation``, ``zip``.
    items
        ``item``, ``title``, ``release_date`` (null when unknown), ``genres`` (list).
    """

    ratings: pa.Table
    users: pa.Table
    items: pa.Table


def load_movielens(folder: str | os.PathLike[str]) -> MovieLens:
    """Read ``u.data``, ``u.user`` and ``u.item`` (latin-1) from a MovieLens 100K folder.

    Raises
    ------
    SourceError
        The folder or one of the files is missing, or a line does not have the layout
        (the message names the file and the line, never the line's content).
    """
    root = Path(folder)
    if not root.is_dir():
        raise SourceError(f"{root}: no such folder; pass the folder holding u.data, u.user, u.item")
    for name in ("u.data", "u.user", "u.item"):
        if not (root / name).is_file():
            raise SourceError(f"{root}: {name} is missing; is this a MovieLens 100K folder?")
    return MovieLens(
        ratings=_read_ratings(root / "u.data"),
        users=_read_users(root / "u.user"),
        items=_read_items(root / "u.item", _genre_names(root / "u.genre")),
    )


def _read_ratings(path: Path) -> pa.Table:
    raw_types = {"user": pa.int32(), "item": pa.int32(), "rating": pa.int8(), "ts": pa.int64()}
    try:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(raw_types)),
            parse_options=pacsv.ParseOptions(delimiter="\t"),
            convert_options=pacsv.ConvertOptions(column_types=raw_types),
        )
    except pa.ArrowInvalid:
        raise _locate(
            path, "\t", 4, "user id, item id, rating, unix time (tab-separated)"
        ) from None
    timestamps = raw.column("ts").cast(pa.timestamp("s")).cast(pa.timestamp("us"))
    return pa.Table.from_arrays([*raw.columns[:3], timestamps], schema=_RATINGS_SCHEMA)


def _read_users(path: Path) -> pa.Table:
    rows = _split_lines(path, "|", 5, "user id|age|gender|occupation|zip code")
    try:
        users = [int(r[0]) for r in rows]
        ages = [int(r[1]) for r in rows]
    except ValueError:
        raise _locate(
            path, "|", 5, "user id|age|gender|occupation|zip code", numeric=(0, 1)
        ) from None
    return pa.Table.from_arrays(
        [users, ages, [r[2] for r in rows], [r[3] for r in rows], [r[4] for r in rows]],
        schema=_USERS_SCHEMA,
    )


def _read_items(path: Path, genres: tuple[str, ...]) -> pa.Table:
    width = 5 + len(genres)
    layout = f"movie id|title|release date|video release date|IMDb URL|{len(genres)} genre flags"
    rows = _split_lines(path, "|", width, layout)
    items: list[int] = []
    dates: list[dt.date | None] = []
    tags: list[list[str]] = []
    for number, row in enumerate(rows, start=1):
        try:
            items.append(int(row[0]))
            dates.append(dt.datetime.strptime(row[2], "%d-%b-%Y").date() if row[2] else None)
            flags = [int(flag) for flag in row[5:]]
        except ValueError:
            raise SourceError(
                f"{path.name} line {number}: expected {layout}; fix or remove that line"
            ) from None
        tags.append([g for g, flag in zip(genres, flags, strict=True) if flag])
    titles = [row[1] for row in rows]
    return pa.Table.from_arrays([items, titles, dates, tags], schema=_ITEMS_SCHEMA)


def _genre_names(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        return GENRES
    text = path.read_text(encoding="latin-1")
    names = [line.split("|")[0] for line in text.splitlines() if line.strip()]
    return tuple(names) if names else GENRES


def _split_lines(path: Path, sep: str, width: int, layout: str) -> list[list[str]]:
    # u.user is ASCII and u.item latin-1; decoding both as latin-1 never fails.
    text = path.read_bytes().decode("latin-1")
    rows: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != width:
            raise SourceError(
                f"{path.name} line {number}: expected {width} fields ({layout}), "
                f"got {len(fields)}; fix or remove that line"
            )
        rows.append(fields)
    if not rows:
        raise SourceError(f"{path.name}: the file is empty; expected {layout}")
    return rows


def _locate(
    path: Path, sep: str, width: int, layout: str, numeric: tuple[int, ...] = (0, 1, 2, 3)
) -> SourceError:
    """Find the first malformed line ourselves: Arrow's message would quote its content."""
    reader = csv.reader(io.StringIO(path.read_bytes().decode("latin-1")), delimiter=sep)
    for row in reader:
        if not row:
            continue
        bad_width = len(row) != width
        bad_number = not bad_width and not all(
            row[i].strip().lstrip("-").isdigit() for i in numeric
        )
        if bad_width or bad_number:
            return SourceError(
                f"{path.name} line {reader.line_num}: expected {layout}; fix or remove that line"
            )
    return SourceError(f"{path.name}: cannot read it as {layout}")
