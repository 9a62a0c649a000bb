"""Membership inference on MovieLens 100K and DP audits of ShopVeil's mechanisms.

Reads ``../shared/data`` beside the repository (or ``SHOPVEIL_SHARED_DATA``; exits 1
when MovieLens 100K is missing). For each model, 1 target + 16 shadow models are trained
on random halves of the 943 customers (``shopveil.attacks.membership_attack``); with
``--targets 17`` every model serves in turn as the target and the ROC is pooled over
them (about 8,000 member and 8,000 non-member scores). Private models are fitted at
ε = 1 (and dp-als at 0.5) per customer on a scratch ledger; model noise is fresh CSPRNG
noise, only the customer splits are seeded. The DP audits run each mechanism at ε = 1,
sound and with its noise halved. Prints one JSON document; exits 1 when a check fails
(the non-private ALS shows no leakage, a DP model's AUC is off 0.5 by more than 0.03, a
sound mechanism fails its audit or a broken one passes it).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_attacks.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from _harness import load_average, machine, shared_data
from shopveil.attacks import (
    AuditConfig,
    AuditTarget,
    MembershipConfig,
    membership_attack,
    run_audit,
)
from shopveil.learn import load_interactions

MODELS = [
    ("als", None),
    ("dp-als", 1.0),
    ("dp-als", 0.5),
    ("dp-cobuy", 1.0),
    ("dp-popularity", 1.0),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 shadows, fewer draws")
    parser.add_argument("--targets", type=int, default=17, help="models used in turn as target")
    args = parser.parse_args()
    before = load_average()
    folder = shared_data() / "movielens-100k"
    if not folder.is_dir():
        print(json.dumps({"error": f"{folder} is missing"}))
        return 1
    data = load_interactions(folder)
    shadows = 4 if args.quick else 16
    failures: list[str] = []
    membership = []
    for model, epsilon in MODELS:
        config = MembershipConfig(
            model, epsilon, shadows=shadows, targets=min(args.targets, shadows + 1), seed=16
        )
        started = time.perf_counter()
        result = membership_attack(data, config)
        seconds = time.perf_counter() - started
        row = {**result.as_dict(), "seconds": round(seconds, 1)}
        membership.append(row)
        best = result.attacks["lira_offline"]
        if epsilon is None and not (best.auc > 0.55 or best.tpr_at_1pct_fpr > 0.03):
            failures.append(f"{model}: no measurable leakage (AUC {best.auc:.3f})")
        if epsilon is not None and epsilon <= 1:
            for name, scores in result.attacks.items():
                if abs(scores.auc - 0.5) > 0.03:
                    failures.append(f"{model} at ε={epsilon}: {name} AUC {scores.auc:.3f}")
    audits = []
    for target in AuditTarget:
        slow = target in (AuditTarget.QUERY, AuditTarget.DP_POPULARITY)
        trials = (100 if args.quick else 500) if slow else (5_000 if args.quick else 50_000)
        for broken in (False, True) if not slow else (False,):
            started = time.perf_counter()
            audit = run_audit(AuditConfig(target, 1.0, trials, broken))
            audits.append({**audit.as_dict(), "seconds": round(time.perf_counter() - started, 1)})
            if audit.passed == broken:
                failures.append(f"audit {audit.mechanism}: passed={audit.passed}")
    print(
        json.dumps(
            {
                "dataset": "movielens-100k",
                "customers": len(data.active_users()),
                "shadows": shadows,
                "membership": membership,
                "audits": audits,
                "failures": failures,
                "machine": machine(before),
            },
            indent=1,
        )
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
