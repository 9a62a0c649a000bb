"""Privacy-preserving record linkage with Bloom-filter encodings (CLKs).

Each party turns its records into cryptographic long-term keys: the q-grams of each
field are hashed into one bit vector with HMAC-SHA-256 under a secret the two parties
share, so only bit vectors cross the boundary, never names or emails. Records are
compared by the Dice coefficient of their bit vectors, which tolerates typos (a typo
changes a few q-grams out of many), and matched one-to-one, best pairs first, above a
threshold. Exact-match keyed hashing of the same fields is the baseline it beats.

Plain CLKs leak through their structure, so the encoder hardens them by default
(Ranbaduge and Schnell, "Securing Bloom filters for privacy-preserving record linkage",
2020):

- random hashing: each q-gram's bit positions come from a keyed PRF, one independent
  position per hash. With double hashing they are ``a + i·b mod bits``, an arithmetic
  progression that lets an attacker recover q-grams from frequent bit patterns
  (Niedermeyer et al. 2014; Kroll and Steinmetzer 2015).
- balancing: each encoding is followed by its complement and the two are shuffled by a
  keyed permutation, so every non-empty encoding has the same number of 1-bits. The
  weight no longer tells how long the values are, and pattern-mining attacks that count
  co-occurring 1-bits (Christen et al. 2018) see each pattern mixed with its complement.
  It keeps Hamming distances (Dice on balanced encodings is 1 - distance / length).

Folding halves the filter and balancing doubles it back, so an encoding keeps ``bits``
bits and matching costs what it did. On the linkage test sets (2,000 and 5,000
customers, 10% typos) precision and recall stay 1.0 with all three; balancing alone
lets a few unmatched records through at the 0.8 threshold (precision 0.991 to 0.998).
- XOR-folding: the two halves of the filter are XORed, so a 1-bit no longer proves
  that some q-gram was hashed there and a 0-bit no longer proves none was (Schnell et
  al. 2016), which breaks the bit-to-q-gram inference those attacks rest on.

Record-level salting (a per-record value mixed into every q-gram) is not offered: it
needs a field that is free of errors on both sides. Even hardened, CLKs of many records
remain open to frequency analysis by whoever holds the secret's output and much
auxiliary data: they are for linkage between trusted partners, not for publication.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.prf import hmac_sha256_array, hmac_tokens
from shopveil.errors import ParameterError, SchemaError
from shopveil.pseudo._fold import fold_text

__all__ = [
    "ClkEncoder",
    "ClkHashing",
    "LinkQuality",
    "LinkResult",
    "exact_match",
    "link_quality",
    "link_tables",
    "match_clks",
    "normalize_text",
]


def normalize_text(value: str) -> str:
    """Lower case, accents folded, blanks collapsed: ``" José  Lee"`` → ``"jose lee"``."""
    return fold_text(value, accents=False)


def _field_text(table: pa.Table, field: str) -> list[str]:
    if field not in table.column_names:
        raise SchemaError(
            f"the table has no column {field!r} to link on; its columns are "
            f"{', '.join(table.column_names)}"
        )
    column = table.column(field)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    return [normalize_text(v) if v is not None else "" for v in column.to_pylist()]


class ClkHashing(StrEnum):
    """How a q-gram's bit positions are chosen."""

    RANDOM = "random"  # one keyed PRF output per position: no structure to mine
    DOUBLE = (
        "double"  # a + i·b mod bits from one MAC: the unhardened scheme, kept to match old CLKs
    )


@dataclass(frozen=True)
class ClkEncoder:
    """Encode records as CLKs, hardened by default (see the module docstring).

    Parameters
    ----------
    fields
        The columns that identify a person (``name``, ``email``, ``birth_date``).
    bits
        Length of the Bloom filter. XOR-folding halves it and balancing doubles it, so
        by default the encoding has ``bits`` bits too.
    hashes
        Bits set per q-gram.
    q
        Q-gram length; 2 (bigrams) suits names and emails.
    hashing
        ``random`` (keyed PRF positions, the default) or ``double`` (double hashing).
    balance
        Append the complement and shuffle with a keyed permutation (default on).
    xor_fold
        XOR the two halves of the filter together (default on).
    """

    fields: tuple[str, ...]
    bits: int = 1024
    hashes: int = 10
    q: int = 2
    hashing: ClkHashing = ClkHashing.RANDOM
    balance: bool = True
    xor_fold: bool = True

    def __post_init__(self) -> None:
        fields = tuple(self.fields) if not isinstance(self.fields, str) else (self.fields,)
        if not fields or any(not isinstance(f, str) or not f.strip() for f in fields):
            raise ParameterError("fields must name at least one column, e.g. ('name', 'email')")
        if len(set(fields)) != len(fields):
            raise ParameterError("fields lists a column twice")
        object.__setattr__(self, "fields", fields)
        for name, low, high in (("bits", 64, 1 << 16), ("hashes", 1, 64), ("q", 1, 4)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ParameterError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if self.bits % 64:
            raise ParameterError(f"bits must be a multiple of 64, got {self.bits}")
        try:
            object.__setattr__(self, "hashing", ClkHashing(self.hashing))
        except ValueError:
            raise ParameterError(
                f"hashing must be 'random' or 'double', got {self.hashing!r}"
            ) from None
        for name in ("balance", "xor_fold"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.xor_fold and self.bits % 128:
            raise ParameterError(
                f"xor_fold halves the filter, so bits must be a multiple of 128, got {self.bits}"
            )

    def qgrams(self, text: str) -> list[str]:
        """The padded q-grams of one normalized value."""
        if not text:
            return []
        padded = "_" * (self.q - 1) + text + "_" * (self.q - 1)
        return [padded[i : i + self.q] for i in range(len(padded) - self.q + 1)]

    def encode(self, table: pa.Table, key: bytes) -> np.ndarray:
        """One CLK per row, as a boolean matrix; rows without any value are all zeros."""
        if len(key) < 16:
            raise ParameterError("the linkage key must be at least 16 bytes of secret")
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        grams: list[int] = []
        for index, field in enumerate(self.fields):
            # Field index in every q-gram: "an" in a name and "an" in an email differ.
            for row, text in enumerate(_field_text(table, field)):
                for gram in self.qgrams(text):
                    rows.append(row)
                    grams.append(vocabulary.setdefault(f"{index}\x1f{gram}", len(vocabulary)))
        clks = np.zeros((table.num_rows, self.bits), dtype=bool)
        if vocabulary:
            names = pa.array(list(vocabulary), pa.string())
            if self.hashing is ClkHashing.RANDOM:
                positions = self._random_positions(key, names)
            else:
                positions = self._double_positions(key, names)
            row_index = np.repeat(np.array(rows, dtype=np.int64), self.hashes)
            clks[row_index, positions[np.array(grams, dtype=np.int64)].reshape(-1)] = True
        if self.xor_fold:
            half = self.bits // 2
            clks = clks[:, :half] ^ clks[:, half:]
        if self.balance:
            empty = np.ones(table.num_rows, dtype=bool)
            empty[np.array(rows, dtype=np.int64)] = False
            width = clks.shape[1]
            clks = np.concatenate([clks, ~clks], axis=1)[:, _permutation(key, 2 * width)]
            # A row with no value stays empty, so missing values never match each other.
            clks[empty] = False
        return clks

    def _random_positions(self, key: bytes, names: pa.Array) -> np.ndarray:
        # 8 positions (32-bit words) per MAC; a fresh sub-key per block of 8.
        blocks = []
        for block in range(-(-self.hashes // 8)):
            sub = _subkey(key, f"clk/random-hashing/{block}")
            blocks.append(hmac_sha256_array(sub, names).copy().view("<u4"))
        words = np.concatenate(blocks, axis=1)[:, : self.hashes].astype(np.uint64)
        return (words % np.uint64(self.bits)).astype(np.int64)

    def _double_positions(self, key: bytes, names: pa.Array) -> np.ndarray:
        macs = hmac_sha256_array(key, names)
        words = macs[:, :16].copy().view("<u8")
        first, step = words[:, 0], words[:, 1] | np.uint64(1)
        hops = np.arange(self.hashes, dtype=np.uint64)
        return ((first[:, None] + hops[None, :] * step[:, None]) % np.uint64(self.bits)).astype(
            np.int64
        )


def _subkey(key: bytes, label: str) -> bytes:
    return hmac.digest(key, b"shopveil/" + label.encode("ascii"), hashlib.sha256)


def _permutation(key: bytes, size: int) -> np.ndarray:
    """A keyed permutation of ``range(size)``: positions sorted by their PRF value."""
    labels = pa.array([str(i) for i in range(size)], pa.string())
    scores = hmac_sha256_array(_subkey(key, "clk/balance"), labels)[:, :8].copy().view("<u8")
    return np.argsort(scores[:, 0], kind="stable")


def match_clks(
    left: np.ndarray, right: np.ndarray, *, threshold: float = 0.8, chunk: int = 2048
) -> pa.Table:
    """One-to-one matches between two sets of CLKs with Dice similarity >= ``threshold``.

    Pairs are taken best first (greedy), so each record is matched at most once.
    Returns a table ``left_row, right_row, score`` ordered by ``left_row``.
    """
    if not 0.0 < threshold <= 1.0:
        raise ParameterError(f"threshold must be in (0, 1], got {threshold!r}")
    if left.shape[1] != right.shape[1]:
        raise ParameterError(
            f"the CLKs have {left.shape[1]} and {right.shape[1]} bits; encode both sides "
            "with the same settings"
        )
    b = right.astype(np.float32)
    b_count = b.sum(axis=1)
    found_left, found_right, found_score = [], [], []
    for start in range(0, len(left), chunk):
        a = left[start : start + chunk].astype(np.float32)
        common = a @ b.T  # exact: counts stay far below 2**24
        total = a.sum(axis=1)[:, None] + b_count[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            dice = np.where(total > 0, 2.0 * common / total, 0.0)
        i, j = np.nonzero(dice >= threshold)
        found_left.append(i + start)
        found_right.append(j)
        found_score.append(dice[i, j])
    li = np.concatenate(found_left) if found_left else np.zeros(0, np.int64)
    rj = np.concatenate(found_right) if found_right else np.zeros(0, np.int64)
    sc = np.concatenate(found_score) if found_score else np.zeros(0, np.float32)
    order = np.lexsort((rj, li, -sc))  # best score first; ties in a fixed order
    used_left: set[int] = set()
    used_right: set[int] = set()
    keep = []
    for k in order:
        x, y = int(li[k]), int(rj[k])
        if x in used_left or y in used_right:
            continue
        used_left.add(x)
        used_right.add(y)
        keep.append(k)
    keep_arr = np.array(sorted(keep, key=lambda k: li[k]), dtype=np.int64)
    return pa.table(
        {
            "left_row": pa.array(li[keep_arr], pa.int64()),
            "right_row": pa.array(rj[keep_arr], pa.int64()),
            "score": pa.array(sc[keep_arr].astype(np.float64), pa.float64()),
        }
    )


def exact_match(left: pa.Table, right: pa.Table, fields: Sequence[str], key: bytes) -> pa.Table:
    """The baseline: keyed hashes of the normalized fields, matched when equal."""

    def hashed(table: pa.Table) -> list[str | None]:
        columns = [_field_text(table, f) for f in fields]
        joined = [
            "\x1f".join(parts) if any(parts) else None for parts in zip(*columns, strict=True)
        ]
        return hmac_tokens(key, pa.array(joined, pa.string()), "x").to_pylist()

    index: dict[str, int] = {}
    for row, token in enumerate(hashed(right)):
        if token is not None:
            index.setdefault(token, row)
    pairs = [(row, index[t]) for row, t in enumerate(hashed(left)) if t is not None and t in index]
    return pa.table(
        {
            "left_row": pa.array([p[0] for p in pairs], pa.int64()),
            "right_row": pa.array([p[1] for p in pairs], pa.int64()),
            "score": pa.array([1.0] * len(pairs), pa.float64()),
        }
    )


@dataclass(frozen=True)
class LinkQuality:
    """Precision and recall of a set of matches against the true pairs."""

    matches: int
    true_pairs: int
    correct: int

    @property
    def precision(self) -> float:
        """The share of proposed links that are true."""
        return self.correct / self.matches if self.matches else 1.0

    @property
    def recall(self) -> float:
        """The share of true links that were proposed."""
        return self.correct / self.true_pairs if self.true_pairs else 1.0

    def to_dict(self) -> dict[str, float | int]:
        """The figures as plain JSON-ready values."""
        return {
            "matches": self.matches,
            "true_pairs": self.true_pairs,
            "correct": self.correct,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


def link_quality(matches: pa.Table, left_truth: pa.Array, right_truth: pa.Array) -> LinkQuality:
    """Score ``matches`` given each record's true identity on both sides (nulls never match)."""
    left_ids = pa.array(left_truth).to_pylist()
    right_ids = pa.array(right_truth).to_pylist()
    true_pairs = len(
        {x for x in left_ids if x is not None} & {y for y in right_ids if y is not None}
    )
    correct = sum(
        1
        for x, y in zip(
            matches["left_row"].to_pylist(), matches["right_row"].to_pylist(), strict=True
        )
        if left_ids[x] is not None and left_ids[x] == right_ids[y]
    )
    return LinkQuality(matches=matches.num_rows, true_pairs=true_pairs, correct=correct)


@dataclass(frozen=True)
class LinkResult:
    """What :func:`link_tables` found, with quality figures when the truth was given."""

    matches: pa.Table  # left_row, right_row, score
    left_rows: int
    right_rows: int
    quality: LinkQuality | None = None
    exact_quality: LinkQuality | None = None  # the exact-match baseline, same key and fields

    def to_dict(self) -> dict[str, object]:
        """The result as plain JSON-ready values."""
        out: dict[str, object] = {
            "left_rows": self.left_rows,
            "right_rows": self.right_rows,
            "matches": self.matches.num_rows,
        }
        if self.quality is not None and self.exact_quality is not None:
            out["clk"] = self.quality.to_dict()
            out["exact_match"] = self.exact_quality.to_dict()
        return out


def link_tables(
    left: pa.Table,
    right: pa.Table,
    encoder: ClkEncoder,
    key: bytes,
    *,
    threshold: float = 0.8,
    truth: str | None = None,
) -> LinkResult:
    """Link two tables on ``encoder.fields`` through CLKs; score it when ``truth`` is given.

    ``truth`` names a column both tables hold with each record's real identity (in a
    test set); it is never used for matching, only to count precision and recall of
    the CLK matches and of the exact-match baseline.
    """
    if truth is not None:
        for side, table in (("left", left), ("right", right)):
            if truth not in table.column_names:
                raise SchemaError(f"the {side} table has no truth column {truth!r}")
        if truth in encoder.fields:
            raise ParameterError(f"the truth column {truth!r} cannot also be a field to link on")
    matches = match_clks(encoder.encode(left, key), encoder.encode(right, key), threshold=threshold)
    quality = exact_quality = None
    if truth is not None:
        left_truth, right_truth = left.column(truth), right.column(truth)
        quality = link_quality(matches, left_truth, right_truth)
        baseline = exact_match(left, right, encoder.fields, key)
        exact_quality = link_quality(baseline, left_truth, right_truth)
    return LinkResult(matches, left.num_rows, right.num_rows, quality, exact_quality)
