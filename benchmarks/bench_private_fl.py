"""Private federated learning: homomorphic against secure aggregation, vertical FL, PSI.

Reads ``../shared/data/online_retail`` (beside the repository; ``SHOPVEIL_SHARED_DATA``
names it elsewhere) and exits 1 when it is missing. Needs the ``fl`` extra. Usage (from
the repository root)::

    .venv/bin/python benchmarks/bench_private_fl.py [--quick] [--part NAME ...]

Parts (all by default):

* ``aggregation``: one round of each protocol with every party in this process, for a
  few client counts and update sizes: pairwise-masking secure aggregation
  (:mod:`shopveil.federated._secagg`, fresh keys each round, threshold 60 %, with and
  without 20 % of the clients dropping out) against Paillier aggregation
  (:mod:`shopveil.federated._homomorphic`). Seconds for the round (all parties, one
  core), the busiest client's seconds, and bytes up and down per client.
* ``training``: FedAvg on Online Retail by country (one client per country) through the
  Flower ClientApps, plain, with secure aggregation and with homomorphic aggregation,
  same seed: AUC, seconds and uplink bytes per round.
* ``vertical``: the churn features split between the retailer and a partner, aligned by
  PSI, split logistic regression, plain (20 epochs, and 2) and with the labels protected
  (encrypted residuals, 2 epochs: it costs a Paillier encryption per customer and
  epoch): AUC next to the same model on the pooled columns and on the retailer's alone,
  bytes exchanged, CPU seconds.
* ``psi``: ShopVeil's PSI against OpenMined's (``openmined-psi``, ECDH-PSI in C++, run
  as its README shows: server setup, client request, server response, client
  intersection) on the same id sets. OpenMined's wheel pins protobuf 6.30, below
  Flower's, so it lives in an environment of its own: run this part with that
  environment's Python (``--part psi``); elsewhere it reports "not installed".

Prints one JSON object; exits 1 when an output check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np

from _harness import load_average, machine, shared_data

RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
PARTS = ("aggregation", "training", "vertical", "psi")


def _data() -> Any:
    import warnings

    from shopveil._core.rng import InsecureRandomnessWarning
    from shopveil.data import load_online_retail
    from shopveil.federated import churn_data

    warnings.simplefilter("ignore", InsecureRandomnessWarning)
    return churn_data(load_online_retail(RETAIL), rng=np.random.default_rng(0))


def secagg_round(n: int, dim: int, dropout: float) -> dict[str, float]:
    """One pairwise-masking round: every step, every party, bytes as sent."""
    from shopveil.federated._secagg import SEALED, MaskingClient, unmask_sum

    rng = np.random.default_rng(n)
    x = {i: rng.integers(-(10**6), 10**6, dim) for i in range(1, n + 1)}
    threshold = max(2, math.ceil(0.6 * n))
    busiest = 0.0
    start = time.process_time()
    client_time: dict[int, float] = dict.fromkeys(x, 0.0)

    def timed(i: int, fn: Any, *args: Any) -> Any:
        t = time.process_time()
        out = fn(*args)
        client_time[i] += time.process_time() - t
        return out

    clients = {i: MaskingClient(i) for i in x}
    keys = {i: timed(i, c.public_key) for i, c in clients.items()}
    sealed = {i: timed(i, c.make_shares, keys, threshold) for i, c in clients.items()}
    for owner, boxes in sealed.items():
        for holder, box in boxes.items():
            timed(holder, clients[holder].keep_shares, owner, box)
    dropped = set(list(x)[: round(dropout * n)])
    masked = {i: timed(i, c.masked, x[i]) for i, c in clients.items() if i not in dropped}
    revealed = {i: timed(i, clients[i].reveal, set(masked), dropped) for i in masked}
    total = unmask_sum(masked, keys, revealed, threshold)
    seconds = time.process_time() - start
    assert np.array_equal(total, sum(x[i] for i in masked)), "secure aggregation sum is wrong"
    busiest = max(client_time.values())
    up = 32 + (n - 1) * (8 + SEALED) + 8 * dim + (n - 1) * (8 + 66)
    down = n * 40 + (n - 1) * (8 + SEALED) + 16 * n
    return {"seconds": round(seconds, 3), "busiest_client_seconds": round(busiest, 4),
            "up_bytes_per_client": up, "down_bytes_per_client": down}  # fmt: skip


def paillier_round(n: int, dim: int) -> dict[str, float]:
    """One Paillier round: clients encrypt, the server multiplies, the key holder decrypts."""
    from shopveil.federated._homomorphic import (
        KEY_BITS,
        KeyHolder,
        add_encrypted,
        ciphertext_bytes,
        encrypt_vector,
    )

    rng = np.random.default_rng(n)
    x = {i: rng.integers(-(10**6), 10**6, dim) for i in range(1, n + 1)}
    t = time.process_time()
    holder = KeyHolder()
    keygen = time.process_time() - t
    start = time.process_time()
    busiest = 0.0
    encrypted = []
    for v in x.values():
        t = time.process_time()
        encrypted.append(encrypt_vector(holder.public, v))
        busiest = max(busiest, time.process_time() - t)
    t = time.process_time()
    total = add_encrypted(holder.public, encrypted)
    server = time.process_time() - t
    t = time.process_time()
    plain = holder.decrypt_sum(total, n, dim, 1)
    decrypt = time.process_time() - t
    seconds = time.process_time() - start
    assert np.array_equal(plain, sum(x.values())), "Paillier sum is wrong"
    return {"seconds": round(seconds, 3), "busiest_client_seconds": round(busiest, 4),
            "server_seconds": round(server, 4), "key_holder_seconds": round(decrypt, 4),
            "keygen_seconds_once": round(keygen, 3),
            "up_bytes_per_client": ciphertext_bytes(dim),
            "down_bytes_per_client": KEY_BITS // 8}  # fmt: skip


def aggregation(quick: bool) -> dict[str, Any]:
    sizes = [(10, 11), (50, 11)] if quick else [(10, 11), (100, 11), (10, 257), (50, 257)]
    out = {}
    for n, dim in sizes:
        masked = secagg_round(n, dim, 0.0)
        dropped = secagg_round(n, dim, 0.2)
        paillier = paillier_round(n, dim)
        out[f"{n}_clients_{dim}_values"] = {
            "secure_aggregation": masked,
            "secure_aggregation_20pct_dropout": dropped,
            "paillier": paillier,
            "seconds_paillier_over_secagg": round(paillier["seconds"] / masked["seconds"], 2),
            "up_bytes_paillier_over_secagg": round(
                paillier["up_bytes_per_client"] / masked["up_bytes_per_client"], 3
            ),
        }
    return out


def training(quick: bool) -> dict[str, Any]:
    from shopveil.federated import FederatedRun, Partition, simulate

    data = _data()
    rounds = 5 if quick else 10
    runs = {
        "plain": FederatedRun(rounds=rounds),
        "secure_aggregation": FederatedRun(rounds=rounds, secure_aggregation=True),
        "homomorphic": FederatedRun(rounds=rounds, homomorphic=True),
    }
    out: dict[str, Any] = {}
    for name, run in runs.items():
        result = simulate(data, run, how=Partition.COUNTRY, seed=1).as_dict()
        out[name] = {k: result[k] for k in ("auc", "central_auc", "clients", "rounds",
                                            "bytes_per_round", "seconds_per_round")}  # fmt: skip
    return out


def vertical(quick: bool) -> dict[str, Any]:
    from shopveil.federated import LocalTraining
    from shopveil.federated._vertical import split_parties, train_vertical

    data = _data()
    retailer, partner = split_parties(data, rng=np.random.default_rng(0))
    long, short = (5, 1) if quick else (20, 2)
    out: dict[str, Any] = {
        "retailer_columns": list(retailer.columns), "partner_columns": list(partner.columns)
    }  # fmt: skip
    # Label protection costs a Paillier encryption per customer and epoch: it is timed
    # over a few epochs, next to the plain protocol over the same epochs.
    runs = {
        f"plain_{long}_epochs": (long, False),
        f"plain_{short}_epochs": (short, False),
        f"protected_labels_{short}_epochs": (short, True),
    }
    for name, (epochs, protect) in runs.items():
        training = LocalTraining(epochs=epochs, batch_size=64)
        start = time.process_time()
        result = train_vertical(retailer, partner, training, seed=0, protect_labels=protect)
        out[name] = result.as_dict() | {"cpu_seconds": round(time.process_time() - start, 2)}
    return out


def psi(quick: bool) -> dict[str, Any]:
    from shopveil.federated._psi import PsiParty, private_intersection
    from shopveil.federated._vertical import split_parties

    data = _data()
    retailer, partner = split_parties(data, rng=np.random.default_rng(0))
    mine, theirs = list(retailer.customers), list(partner.customers)
    truth = set(mine) & set(theirs)
    log: list[tuple[str, str, np.ndarray]] = []
    start, cpu = time.perf_counter(), time.process_time()
    rows, _ = private_intersection(PsiParty(mine), PsiParty(theirs), transcript=log)
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert {mine[i] for i in rows} == truth, "ShopVeil PSI intersection is wrong"
    out: dict[str, Any] = {
        "retailer_ids": len(mine), "partner_ids": len(theirs), "common": len(truth),
        "shopveil": {"seconds": round(ours, 3), "cpu_seconds": round(ours_cpu, 3),
                     "bytes": sum(int(p.nbytes) for _, _, p in log)},
    }  # fmt: skip
    try:
        import private_set_intersection.python as openmined
    except ImportError:
        out["openmined_psi"] = "not installed (see the docstring)"
        return out
    start, cpu = time.perf_counter(), time.process_time()
    client = openmined.client.CreateWithNewKey(True)
    server = openmined.server.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(1e-9, len(mine), theirs, openmined.DataStructure.RAW)
    request = client.CreateRequest(mine)
    response = server.ProcessRequest(request)
    found = client.GetIntersection(setup, response)
    theirs_seconds, theirs_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert {mine[i] for i in found} == truth, "OpenMined PSI intersection is wrong"
    out["openmined_psi"] = {
        "seconds": round(theirs_seconds, 3),
        "cpu_seconds": round(theirs_cpu, 3),
        "bytes": setup.ByteSize() + request.ByteSize() + response.ByteSize(),
    }
    out["cpu_shopveil_over_openmined"] = round(ours_cpu / theirs_cpu, 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", action="append", choices=PARTS)
    args = parser.parse_args()
    if not RETAIL.exists():
        print(f"missing {RETAIL}", file=sys.stderr)
        return 1
    load_before = load_average()
    parts = {"aggregation": aggregation, "training": training, "vertical": vertical, "psi": psi}
    result: dict[str, Any] = {}
    for name in args.part or PARTS:
        result[name] = parts[name](args.quick)
    result["machine"] = machine(load_before)
    print(json.dumps(result, indent=2))
    checks = []
    if "training" in result:
        t = result["training"]
        checks.append(t["homomorphic"]["auc"] == t["secure_aggregation"]["auc"])
        checks.append(abs(t["homomorphic"]["auc"] - t["plain"]["auc"]) < 0.01)
    if "vertical" in result:
        for v in result["vertical"].values():
            if isinstance(v, dict):
                checks.append(abs(v["auc"] - v["central_auc"]) < 0.005)
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
