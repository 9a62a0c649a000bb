"""Private set intersection: the right customers, aligned, and nothing about the others."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("nacl", reason="the fl extra (PyNaCl) is not installed")

from shopveil.errors import ParameterError, PrivacyError
from shopveil.federated._psi import PsiParty, hash_to_group, private_intersection

ids = st.sets(st.integers(10000, 10200).map(str), max_size=40)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids, ids)
def test_the_intersection_is_exact_and_aligned(mine: set[str], theirs: set[str]) -> None:
    retailer, partner = sorted(mine), sorted(theirs, reverse=True)
    transcript: list[tuple[str, str, np.ndarray]] = []
    rows_r, rows_p = private_intersection(
        PsiParty(retailer), PsiParty(partner), transcript=transcript
    )
    assert sorted(retailer[i] for i in rows_r) == sorted(mine & theirs)
    # Row k on one side is row k on the other: the same customer.
    assert [retailer[i] for i in rows_r] == [partner[i] for i in rows_p]
    assert [kind for _, kind, _ in transcript] == [
        "psi.blinded", "psi.blinded", "psi.reblinded", "psi.positions",
    ]  # fmt: skip


def test_the_blinded_ids_resist_the_dictionary_attack_that_breaks_hashed_ids() -> None:
    """Customer numbers are five digits: whoever receives plain hashes of them finds every
    id by hashing all the numbers. Reproduce that, then show the blinded ids match
    nothing the receiver can compute, with or without its own key, and that the
    protocol tells it only the common customers."""
    space = [str(n) for n in range(10000, 10600)]  # the receiver knows the id space
    retailer = space[0:300:3]
    partner = space[0:600:5]
    # The attack on hashed ids: the partner recovers every one of the retailer's ids.
    hashed = {hashlib.sha256(i.encode()).digest() for i in retailer}
    found = {g for g in space if hashlib.sha256(g.encode()).digest() in hashed}
    assert found == set(retailer)

    asker, other = PsiParty(retailer), PsiParty(partner)
    sent = {row.tobytes() for row in asker.blinded()}
    # What the partner can compute for any guess: H(g), H(g)^b with its own key.
    guesses = [hash_to_group(g, "customer-id") for g in space]
    assert not sent & set(guesses)
    assert not sent & {row.tobytes() for row in other.reblind(np.array(
        [np.frombuffer(p, dtype=np.uint8) for p in guesses]))}  # fmt: skip
    _, rows_p = private_intersection(asker, other)
    assert {partner[i] for i in rows_p} == set(retailer) & set(partner)
    assert len(rows_p) < len(retailer)  # the non-members stay hidden


def test_a_point_outside_the_group_is_refused() -> None:
    party = PsiParty(["1", "2"])
    small_order = np.zeros((1, 32), dtype=np.uint8)
    small_order[0, 0] = 1  # the identity point, of order 1
    with pytest.raises(PrivacyError, match="outside the prime-order group"):
        party.reblind(small_order)
    with pytest.raises(ParameterError, match=r"\(n, 32\) uint8"):
        party.reblind(np.zeros((2, 31), dtype=np.uint8))
    with pytest.raises(ParameterError, match="distinct"):
        PsiParty(["1", "1"])
    with pytest.raises(ParameterError, match="outside the 2 points"):
        party.rows_at(np.array([0, 5]))


def test_context_separates_the_hashes() -> None:
    assert hash_to_group("12345", "customer-id") != hash_to_group("12345", "email")
    assert hash_to_group("12345", "customer-id") == hash_to_group("12345", "customer-id")
