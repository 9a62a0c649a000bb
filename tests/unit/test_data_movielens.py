"""The MovieLens 100K reader, on a tiny fake folder in the same format (the real files may
not be copied: their licence forbids redistribution)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from shopveil.data import MovieLens, load_movielens
from shopveil.errors import SourceError

GENRE_NAMES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip


def _flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in GENRE_NAMES)


def _fake_folder(root: Path, *, genre_file: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text(
        "1\t10\t4\t881250949\n2\t20\t1\t891717742\n1\t20\t5\t878887116\n", encoding="ascii"
    )
    (root / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|T8H1N\n", encoding="ascii")
    items = [
        f"10|Amélie (2001)|01-Jan-2001||http://example.invalid/a|{_flags('Comedy', 'Romance')}",
        f"20|Señor Frío (1997)|||http://example.invalid/b|{_flags('unknown')}",
    ]
    (root / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
    if genre_file:
        text = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRE_NAMES)) + "\n"
        (root / "u.genre").write_text(text, encoding="ascii")
    return root


def test_reads_three_typed_tables(tmp_path: Path) -> None:
    ml = load_movielens(_fake_folder(tmp_path / "ml"))
    assert isinstance(ml, MovieLens)
    assert ml.ratings.column_names == ["user", "item", "rating", "timestamp"]
    assert ml.ratings.num_rows == 3
    first = ml.ratings.to_pylist()[0]
    assert (first["user"], first["item"], first["rating"]) == (1, 10, 4)
    assert first["timestamp"] == dt.datetime(1997, 12, 4, 15, 55, 49)
    assert ml.users.column_names == ["user", "age", "gender", "occupation", "zip"]
    assert ml.users.to_pylist()[1] == {
        "user": 2, "age": 53, "gender": "F", "occupation": "other", "zip": "T8H1N",
    }  # fmt: skip
    assert pa.types.is_string(ml.users.schema.field("zip").type)


def test_items_decode_latin1_and_list_genres(tmp_path: Path) -> None:
    items = load_movielens(_fake_folder(tmp_path / "ml")).items.to_pylist()
    assert items[0]["title"] == "Amélie (2001)"
    assert items[0]["genres"] == ["Comedy", "Romance"]
    assert items[0]["release_date"] == dt.date(2001, 1, 1)
    assert items[1]["title"] == "Señor Frío (1997)"
    assert items[1]["release_date"] is None
    assert items[1]["genres"] == ["unknown"]


def test_genre_file_is_optional(tmp_path: Path) -> None:
    with_file = load_movielens(_fake_folder(tmp_path / "a"))
    without = load_movielens(_fake_folder(tmp_path / "b", genre_file=False))
    assert with_file.items.equals(without.items)


def test_result_is_frozen(tmp_path: Path) -> None:
    ml = load_movielens(_fake_folder(tmp_path / "ml"))
    with pytest.raises(AttributeError):
        ml.ratings = ml.users  # type: ignore[misc]


@pytest.mark.parametrize("missing", ["u.data", "u.user", "u.item"])
def test_missing_file_is_named(tmp_path: Path, missing: str) -> None:
    root = _fake_folder(tmp_path / "ml")
    (root / missing).unlink()
    with pytest.raises(SourceError, match=missing.replace(".", r"\.")):
        load_movielens(root)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        load_movielens(tmp_path / "absent")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("u.data", "3\tnot-a-number\t5\t881250949"),  # bad item id
        ("u.data", "3\t10\t5"),  # a field short
        ("u.user", "3|old|M|writer|12345"),  # bad age
        ("u.user", "3|30|M|writer"),  # a field short
        ("u.item", "30|Short line|01-Jan-1999"),  # far too few fields
    ],
)
def test_malformed_line_is_named_without_its_content(tmp_path: Path, name: str, line: str) -> None:
    root = _fake_folder(tmp_path / "ml")
    with (root / name).open("ab") as handle:
        handle.write((line + "\n").encode("latin-1"))
    with pytest.raises(SourceError) as info:
        load_movielens(root)
    message = str(info.value)
    assert name in message
    assert "line " in message
    assert "not-a-number" not in message and "Short line" not in message and "old" not in message
