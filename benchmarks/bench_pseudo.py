"""Benchmark pseudonymization: keyed tokens, FF3-1 and record linkage, with peers, one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_pseudo.py [--ids 10000000] [--cards 200000]

Measured in one process on the same generated data, one core (every kernel here is
single-threaded):

- keyed tokens: ``KeyedToken`` over ``--ids`` distinct customer ids through the batch
  API; the peers are Presidio-anonymizer's ``hash`` operator (SHA-256 with a fixed salt)
  and the best plain-Python ``hmac`` loop, timed on a slice and given per second. The
  physical limit is hashlib's SHA-256 over one large buffer: one short id costs two
  compressions, so half the compressions per second bounds the tokens per second. A
  sample of tokens is checked byte for byte against ``hmac.digest``.
- FF3-1: ``FormatPreservingEncrypt`` over ``--cards`` 16-digit numbers, against the
  ``ff3`` package on a slice; the round trip is checked.
- record linkage: two lists from ``generate_retail`` sharing 80% of their people, 10% of
  the partner's rows with typos; Bloom-filter CLKs against exact-match keyed hashing.

Prints one JSON object. Needs ``presidio-anonymizer`` and ``ff3`` (benchmark-only);
it does not read ``../shared/data``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys

import numpy as np
import pyarrow as pa

from _harness import load_average, machine, scratch_keyring, timed
from shopveil._core import prf
from shopveil._core.operators import OperatorContext
from shopveil.data import RetailOptions, generate_retail
from shopveil.pseudo import (
    ClkEncoder,
    FormatPreservingEncrypt,
    KeyedToken,
    kernel_name,
    link_tables,
    link_test_set,
)


def bench_tokens(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    ids = pa.array([str(i) for i in range(10_000_000, 10_000_000 + n)], pa.string())
    operator = KeyedToken(domain="customer_id")
    tokens, t_ours = timed(lambda: operator.apply(ids, context), repeat=2)
    key = context.require_keys().derive(context.purpose, "token:customer_id")
    sample = range(0, n, max(1, n // 10_000))
    identical = all(
        tokens[i].as_py()
        == "tk1_"
        + base64.urlsafe_b64encode(
            hmac.digest(key, ids[i].as_py().encode(), "sha256")[:17]
        ).decode()[:22]
        for i in sample
    )
    head = [v.encode() for v in ids.slice(0, slice_n).to_pylist()]
    _, t_hmac = timed(lambda: [hmac.digest(key, v, "sha256") for v in head], repeat=3)

    try:
        from presidio_anonymizer.operators import Hash
    except ImportError:
        presidio_per_s = None  # the [bench] extra is not installed
    else:
        presidio = Hash()
        params = {"hash_type": "sha256", "salt": secrets.token_bytes(16)}
        texts = ids.slice(0, slice_n // 5).to_pylist()
        _, t_presidio = timed(lambda: [presidio.operate(t, params) for t in texts], repeat=1)
        presidio_per_s = len(texts) / t_presidio

    native = prf._NATIVE
    prf._NATIVE = None  # the pure-Python fallback, timed on a slice
    try:
        _, t_python = timed(lambda: operator.apply(ids.slice(0, slice_n), context))
    finally:
        prf._NATIVE = native

    buffer = os.urandom(256 << 20)
    _, t_sha = timed(lambda: hashlib.sha256(buffer).digest(), repeat=2)
    compressions = len(buffer) / 64 / t_sha
    ours = n / t_ours
    return {
        "ids": n,
        "kernel": kernel_name(),
        "shopveil_tokens_per_s": round(ours),
        "byte_identical_to_hmac": identical,
        "python_hmac_loop_per_s": round(slice_n / t_hmac),
        "presidio_hash_per_s": round(presidio_per_s) if presidio_per_s else "not installed",
        "shopveil_pure_python_fallback_per_s": round(slice_n / t_python),
        "sha256_MB_per_s": round(len(buffer) / t_sha / 1e6),
        "sha256_limit_tokens_per_s": round(compressions / 2),
        "ratio_vs_hmac_loop": round(ours / (slice_n / t_hmac), 1),
        "ratio_vs_presidio": round(ours / presidio_per_s, 1) if presidio_per_s else None,
        "share_of_sha256_limit": round(ours / (compressions / 2), 2),
    }


def bench_fpe(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    rng = np.random.default_rng(1)  # benchmark data, not a release
    digits = rng.integers(0, 10, (n, 16)).astype(np.uint8) + ord("0")
    cards = pa.array(digits.view("S16").reshape(-1).astype(str), pa.string())
    fpe = FormatPreservingEncrypt(domain="card_number")
    # Only a purpose allowed to re-identify may decrypt; encrypt under the same one.
    context = OperatorContext("fulfilment", context.column, context.keys, context.as_of)
    encrypted, t_ours = timed(lambda: fpe.apply(cards, context), repeat=2)
    round_trip = fpe.decrypt(encrypted, context).equals(cards)

    from ff3 import FF3Cipher

    peer = FF3Cipher(secrets.token_hex(32), secrets.token_hex(7))
    head = cards.slice(0, slice_n).to_pylist()
    _, t_peer = timed(lambda: [peer.encrypt(v) for v in head])
    ours = n / t_ours
    return {
        "values": n,
        "shopveil_values_per_s": round(ours),
        "round_trip_ok": round_trip,
        "ff3_package_values_per_s": round(slice_n / t_peer),
        "ratio_vs_ff3_package": round(ours / (slice_n / t_peer), 1),
    }


def bench_linkage(customers: int, key: bytes) -> dict[str, object]:
    options = RetailOptions(orders_per_customer=0, sessions_per_customer=0, text=False)
    table = generate_retail(customers, seed=17, options=options).tables["customers"]
    fields = ("name", "email", "birth_date")
    test_set = link_test_set(table, fields, typo_rate=0.1, rng=np.random.default_rng(4))
    result, seconds = timed(
        lambda: link_tables(test_set.left, test_set.right, ClkEncoder(fields), key, truth="truth")
    )
    assert result.quality is not None and result.exact_quality is not None
    quality = result.quality.to_dict()
    return {
        "quality_ok": quality["precision"] >= 0.95 and quality["recall"] >= 0.95,
        "left_rows": test_set.left.num_rows,
        "right_rows": test_set.right.num_rows,
        "rows_with_typos": test_set.typo_rows,
        "fields": list(fields),
        "clk": quality,
        "exact_match": result.exact_quality.to_dict(),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=10_000_000)
    parser.add_argument("--id-slice", type=int, default=500_000)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--card-slice", type=int, default=5_000)
    parser.add_argument("--link-customers", type=int, default=5_000)
    args = parser.parse_args()
    load_before = load_average()
    with scratch_keyring() as keyring:
        context = OperatorContext(purpose="analytics", column="customer_id", keys=keyring)
        report = {
            "tokens": bench_tokens(context, args.ids, args.id_slice),
            "fpe": bench_fpe(context, args.cards, args.card_slice),
            "linkage": bench_linkage(args.link_customers, keyring.derive("linkage", "bench")),
        }
    checks = [
        report["tokens"]["byte_identical_to_hmac"],
        report["fpe"]["round_trip_ok"],
        report["linkage"]["quality_ok"],
    ]
    report["machine"] = machine(load_before)
    report["all_checks_pass"] = all(checks)
    print(json.dumps(report, indent=2))
    if not all(checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
