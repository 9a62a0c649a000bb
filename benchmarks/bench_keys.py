"""Benchmark the vault and the audit log on UCI Online Retail, against a naive Fernet vault.

Reads ``../shared/data/online_retail`` (the shared benchmark data beside the repository)
and exits 1 when it is missing. Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_keys.py [--tokens 10000]

Subjects are customers (``CustomerID``), values are their order numbers (``InvoiceNo``),
the kind of reference a fulfilment service re-identifies. The peer is what a team would
write without ShopVeil: one Fernet key (``cryptography``), random tokens, one table,
in the same SQLite setup, the same process and on the same data. ShopVeil does more per
value (a key per subject so erasure works, a keyed look-up so a repeated value keeps its
token, an audit event per batch); the ratios say what that costs. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from cryptography.fernet import Fernet

from _harness import load_average, machine, shared_data
from shopveil.audit import AuditLog
from shopveil.keys import Keyring, Vault
from shopveil.store import Store

DATA = shared_data()
RETAIL = DATA / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
BATCH = 1000
T = TypeVar("T")


def load_pairs(limit: int) -> list[tuple[str, str]]:
    """Distinct (customer, invoice) pairs, in file order."""
    seen: dict[tuple[str, str], None] = {}
    with gzip.open(RETAIL, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            customer = row["CustomerID"].removesuffix(".0")
            if customer:
                seen.setdefault((customer, row["InvoiceNo"]), None)
                if len(seen) >= limit:
                    break
    return list(seen)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_shopveil(url: str, pairs: list[tuple[str, str]]) -> dict[str, float]:
    store = Store.open(url)
    keyring = Keyring.open(store, master_key=secrets.token_bytes(32))
    vault = Vault(store, keyring, AuditLog(store, keyring))
    subjects, values = [p[0] for p in pairs], [p[1] for p in pairs]

    def tokenize() -> list[str]:
        tokens: list[str] = []
        for i in range(0, len(values), BATCH):
            tokens += vault.tokenize(
                values[i : i + BATCH], subject_ids=subjects[i : i + BATCH], purpose="fulfilment"
            )
        return tokens

    tokens, t_tok = timed(tokenize)
    again, t_again = timed(tokenize)  # every value is already stored: look-up path
    assert again == tokens

    def detokenize() -> list[str]:
        out: list[str] = []
        for i in range(0, len(tokens), BATCH):
            out += vault.detokenize(tokens[i : i + BATCH], purpose="fulfilment", actor="bench")
        return out

    back, t_detok = timed(detokenize)
    assert back == values
    rotation, t_rotate = timed(lambda: vault.rotate(actor="bench"))
    distinct = list(dict.fromkeys(subjects))[:100]
    _, t_erase = timed(lambda: [vault.erase_subject(s, actor="bench") for s in distinct])
    log = vault.audit
    _, t_append = timed(lambda: [log.append("bench", "bench.event", {"i": i}) for i in range(1000)])
    count, t_verify = timed(log.verify)
    store.close()
    return {
        "tokenize_s": t_tok,
        "tokenize_again_s": t_again,
        "detokenize_s": t_detok,
        "rotate_s": t_rotate,
        "rotate_subject_keys": rotation.rewrapped,
        "erase_100_subjects_s": t_erase,
        "audit_append_1000_s": t_append,
        "audit_verify_s": t_verify,
        "audit_events": count,
        "subjects": len(set(subjects)),
    }


def bench_fernet(url: str, pairs: list[tuple[str, str]]) -> dict[str, float]:
    engine = Store.open(url).engine  # same SQLite pragmas and BEGIN IMMEDIATE
    table = sa.Table(
        "peer_vault",
        sa.MetaData(),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    )
    table.create(engine)
    fernet = Fernet(Fernet.generate_key())
    values = [p[1] for p in pairs]

    def tokenize() -> list[str]:
        tokens: list[str] = []
        for i in range(0, len(values), BATCH):
            batch = [(secrets.token_urlsafe(18), v) for v in values[i : i + BATCH]]
            with engine.begin() as conn:
                conn.execute(
                    sa.insert(table),
                    [{"token": t, "ciphertext": fernet.encrypt(v.encode())} for t, v in batch],
                )
            tokens += [t for t, _ in batch]
        return tokens

    tokens, t_tok = timed(tokenize)

    def detokenize() -> list[str]:
        out: list[str] = []
        for i in range(0, len(tokens), BATCH):
            part = tokens[i : i + BATCH]
            with engine.begin() as conn:
                query = sa.select(table.c.token, table.c.ciphertext).where(table.c.token.in_(part))
                rows: dict[str, bytes] = {t: c for t, c in conn.execute(query)}
            out += [fernet.decrypt(rows[t]).decode() for t in part]
        return out

    back, t_detok = timed(detokenize)
    assert back == values
    engine.dispose()
    return {"tokenize_s": t_tok, "detokenize_s": t_detok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    args = parser.parse_args()
    load_before = load_average()
    if not RETAIL.exists():
        print(f"benchmark data not found: {RETAIL} (expected ../shared/data)", file=sys.stderr)
        return 1
    pairs = load_pairs(args.tokens)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHOPVEIL_HOME"] = tmp
        ours = bench_shopveil(f"sqlite:///{tmp}/shopveil.db", pairs)
        peer = bench_fernet(f"sqlite:///{tmp}/peer.db", pairs)
    n = len(pairs)
    result = {
        "benchmark": "keys.vault",
        "data": "UCI Online Retail 2010-12..2011-09 (CustomerID, InvoiceNo) pairs",
        "tokens": n,
        "batch": BATCH,
        "backend": "sqlite",
        "shopveil": ours,
        "peer_fernet": peer,
        "rates_per_s": {
            "shopveil_tokenize": n / ours["tokenize_s"],
            "shopveil_tokenize_again": n / ours["tokenize_again_s"],
            "shopveil_detokenize": n / ours["detokenize_s"],
            "peer_tokenize": n / peer["tokenize_s"],
            "peer_detokenize": n / peer["detokenize_s"],
            "audit_append": 1000 / ours["audit_append_1000_s"],
            "audit_verify": ours["audit_events"] / ours["audit_verify_s"],
        },
        "ratios_shopveil_over_peer": {
            "tokenize_time": ours["tokenize_s"] / peer["tokenize_s"],
            "detokenize_time": ours["detokenize_s"] / peer["detokenize_s"],
        },
        # Round trips are asserted and the audit chain verified in the run (a failure
        # ends it before this line).
        "checks": {"round_trips_asserted_and_audit_chain_verified": True},
        "machine": machine(load_before),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
