"""Vertical FL: aligned by PSI, one model from two parties' columns, no column crosses."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nacl", reason="the fl extra (PyNaCl) is not installed")

from _federated_data import synthetic

from shopveil.errors import ParameterError
from shopveil.federated._model import LocalTraining
from shopveil.federated._vertical import (
    Transcript,
    VerticalParty,
    split_parties,
    train_vertical,
)

# The synthetic label depends on recency and frequency: the partner holds recency.
PARTNER = ("recency_days", "tenure_days", "return_rate")
TRAINING = LocalTraining(epochs=8, batch_size=64, learning_rate=0.5)


@pytest.fixture(scope="module")
def run() -> tuple[VerticalParty, VerticalParty, Transcript, dict[str, object]]:
    data = synthetic(400, seed=7)
    retailer, partner = split_parties(data, PARTNER, share=0.8, rng=np.random.default_rng(1))
    transcript: Transcript = []
    result = train_vertical(retailer, partner, TRAINING, seed=2, transcript=transcript)
    return retailer, partner, transcript, result.as_dict()


def _values(party: VerticalParty, raw: np.ndarray) -> set[float]:
    return set(party.x.ravel().tolist()) | set(raw.ravel().tolist())


def _leaks(payload: np.ndarray, features: set[float]) -> bool:
    """A float payload that is not one number per customer, or whose distinct values are
    mostly feature values (a column, or a part of one)."""
    if payload.dtype.kind != "f":
        return False
    if payload.ndim != 1:
        return True
    distinct = set(payload.tolist())
    hits = distinct & features
    return len(hits) >= 3 and len(hits) >= len(distinct) / 2


def test_split_training_is_the_pooled_model_and_beats_the_retailer_alone(
    run: tuple[VerticalParty, VerticalParty, Transcript, dict[str, object]],
) -> None:
    retailer, partner, _, out = run
    common = len(set(retailer.customers) & set(partner.customers))
    assert out["common_customers"] == common < len(retailer.customers)
    assert out["train"] + out["test"] == common  # type: ignore[operator]
    # Same batches on the pooled columns: the same model, so the same ranking.
    assert abs(out["auc"] - out["central_auc"]) < 1e-3  # type: ignore[operator]
    assert out["auc"] > out["retailer_only_auc"] + 0.03  # type: ignore[operator]
    assert out["auc"] > 0.65  # type: ignore[operator]


def test_no_feature_column_crosses_the_boundary(
    run: tuple[VerticalParty, VerticalParty, Transcript, dict[str, object]],
) -> None:
    retailer, partner, transcript, _ = run
    data = synthetic(400, seed=7)
    index = {c: k for k, c in enumerate(data.customers)}

    def raw(party: VerticalParty) -> np.ndarray:
        from shopveil.learn import FEATURE_NAMES

        rows = [index[c] for c in party.customers]
        return data.raw[np.ix_(rows, [FEATURE_NAMES.index(c) for c in party.columns])]

    features = _values(retailer, raw(retailer)) | _values(partner, raw(partner))
    # The check catches the leaks it looks for: a party's rows, or one of its columns.
    batch = np.arange(32)
    assert _leaks(partner.x[batch], features)
    assert _leaks(partner.x[batch, 1].copy(), features)
    assert _leaks(raw(partner)[batch, 0].copy(), features)
    kinds = {kind for _, kind, _ in transcript}
    assert kinds == {"psi.blinded", "psi.reblinded", "psi.positions", "vfl.batch",
                     "vfl.partial", "vfl.residual", "vfl.score"}  # fmt: skip
    assert not [kind for _, kind, p in transcript if _leaks(p, features)]
    for sender, kind, payload in transcript:
        if kind.startswith("vfl.") and payload.dtype.kind == "f":
            assert payload.ndim == 1, (sender, kind)  # one number per customer of a batch
        if kind in ("vfl.batch", "vfl.score", "psi.positions"):
            assert payload.dtype == np.int64 and payload.ndim == 1
    partials = [p for s, k, p in transcript if k == "vfl.partial"]
    assert all(s == "partner" for s, k, _ in transcript if k == "vfl.partial")
    assert len(np.unique(np.concatenate(partials))) > 100  # the partner did take part


def test_bad_input_is_refused() -> None:
    data = synthetic(60, seed=7)
    with pytest.raises(ParameterError, match="must be distinct names among"):
        split_parties(data, ("income",))
    with pytest.raises(ParameterError, match="cannot hold every column"):
        from shopveil.learn import FEATURE_NAMES

        split_parties(data, FEATURE_NAMES)
    retailer, partner = split_parties(data, PARTNER, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="must hold the labels"):
        train_vertical(partner, retailer)
    stranger = VerticalParty("partner", ("x1", "x2"), PARTNER, np.zeros((2, len(PARTNER))))
    with pytest.raises(ParameterError, match="no customer in common"):
        train_vertical(retailer, stranger)


def test_the_residuals_give_the_labels_away_unless_they_are_sealed() -> None:
    """Plain split training sends the partner ``p - y``: a negative residual is a churner.
    Reproduce that, then check that with protect_labels no residual crosses in the clear,
    the masked gradient the retailer opens is uniform-sized noise, and the model is still
    the pooled one."""
    data = synthetic(160, seed=7)
    retailer, partner = split_parties(data, PARTNER, share=0.8, rng=np.random.default_rng(1))
    common = set(retailer.customers) & set(partner.customers)
    assert retailer.y is not None and retailer.train is not None
    churners = sum(
        int(y) for c, y, t in zip(retailer.customers, retailer.y, retailer.train, strict=True)
        if c in common and t
    )  # fmt: skip
    one_epoch = LocalTraining(epochs=1, batch_size=32)
    plain: Transcript = []
    train_vertical(retailer, partner, one_epoch, seed=3, transcript=plain)
    residuals = np.concatenate([p for _, k, p in plain if k == "vfl.residual"])
    assert int((residuals < 0).sum()) == churners  # the partner counts (and finds) them

    sealed: Transcript = []
    out = train_vertical(
        retailer, partner, one_epoch, seed=3, transcript=sealed, protect_labels=True
    ).as_dict()
    kinds = [k for _, k, _ in sealed]
    assert "vfl.residual" not in kinds and "vfl.residual-sealed" in kinds
    to_partner = [p for s, k, p in sealed if s == "retailer" and k.startswith("vfl.")]
    assert all(p.dtype != np.float64 for p in to_partner)  # keys, positions, ciphertexts
    opened = [p for _, k, p in sealed if k == "vfl.gradient-masked-open"]
    for row in np.concatenate(opened):
        assert int.from_bytes(row.tobytes(), "big").bit_length() > 1900  # masked mod n
    assert abs(out["auc"] - out["central_auc"]) < 1e-3  # type: ignore[operator]
