"""Benchmark masking: consistent fake substitution and partial masking, with peers, one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_mask.py [--values 1000000]

- fake substitution: ``FakeSubstitute`` (person names and emails, consistent per input
  under a key) over ``--values`` distinct ids; peers are Faker (``name()``) and mimesis
  (``Person.full_name()``) generating names one at a time on a slice. The peers make a
  random name per call; neither is consistent per input, so they do less work.
- partial masking: ``MaskCard`` over card numbers against Presidio-anonymizer's ``mask``
  operator on a slice.
- perturbation and shuffling: rows per second over a numeric column.

Prints one JSON object; one core. Needs Faker (a dependency), ``mimesis`` and
``presidio-anonymizer`` (benchmark-only). It does not read ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from _harness import load_average, machine, scratch_keyring, timed
from shopveil._core import secure_rng
from shopveil._core.operators import OperatorContext
from shopveil.mask import FakeKind, FakeSubstitute, MaskCard, Perturb, Shuffle


def bench_fakes(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    ids = pa.array([str(i) for i in range(20_000_000, 20_000_000 + n)], pa.string())
    FakeSubstitute().apply(ids.slice(0, 10), context)  # build the pools outside the timing
    names, t_names = timed(lambda: FakeSubstitute().apply(ids, context), repeat=2)
    emails, t_emails = timed(
        lambda: FakeSubstitute(kind=FakeKind.EMAIL).apply(ids, context), repeat=2
    )
    # Consistent: an id gets the same fake however it is batched; never null, never the id.
    again = FakeSubstitute().apply(ids.slice(n // 2, 1_000), context)
    checks = {
        "consistent": again.equals(names.slice(n // 2, 1_000)),
        "no_nulls_no_inputs": names.null_count == emails.null_count == 0
        and not pc.any(pc.equal(names, ids)).as_py(),
        "emails_have_an_at": bool(pc.all(pc.match_substring(emails, "@")).as_py()),
    }
    ours = n / t_names
    out: dict[str, object] = {
        "values": n,
        "shopveil_names_per_s": round(ours),
        "shopveil_emails_per_s": round(n / t_emails),
        "checks": checks,
    }
    from faker import Faker

    faker = Faker("en_GB")
    _, t_faker = timed(lambda: [faker.name() for _ in range(slice_n // 10)])
    out["faker_names_per_s"] = round(slice_n // 10 / t_faker)
    out["ratio_vs_faker"] = round(ours / (slice_n // 10 / t_faker), 1)
    try:
        from mimesis import Person
    except ImportError:
        out["mimesis"] = "not installed: the [bench] extra is needed for this peer"
        return out
    person = Person()
    _, t_mimesis = timed(lambda: [person.full_name() for _ in range(slice_n)])
    out["mimesis_names_per_s"] = round(slice_n / t_mimesis)
    out["ratio_vs_mimesis"] = round(ours / (slice_n / t_mimesis), 1)
    return out


def bench_card_mask(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    rng = np.random.default_rng(2)  # benchmark data, not a release
    digits = rng.integers(0, 10, (n, 16)).astype(np.uint8) + ord("0")
    cards = pa.array(digits.view("S16").reshape(-1).astype(str), pa.string())
    masked, t_ours = timed(lambda: MaskCard().apply(cards, context), repeat=2)
    ours = n / t_ours
    last4 = pc.utf8_slice_codeunits(masked, 12, 16).equals(pc.utf8_slice_codeunits(cards, 12, 16))
    digits = pc.match_substring_regex(pc.utf8_slice_codeunits(masked, 0, 12), "[0-9]")
    hidden = not pc.any(digits).as_py()
    out: dict[str, object] = {
        "values": n,
        "shopveil_values_per_s": round(ours),
        "checks": {"last_four_kept": last4, "first_twelve_hidden": hidden},
    }
    try:
        from presidio_anonymizer.operators import Mask
    except ImportError:
        out["presidio"] = "not installed: the [bench] extra is needed for this peer"
        return out
    mask = Mask()
    params = {"masking_char": "*", "chars_to_mask": 12, "from_end": False}
    head = cards.slice(0, slice_n).to_pylist()
    _, t_presidio = timed(lambda: [mask.operate(v, params) for v in head])
    out["presidio_mask_per_s"] = round(slice_n / t_presidio)
    out["ratio_vs_presidio"] = round(ours / (slice_n / t_presidio), 1)
    return out


def bench_numeric(context: OperatorContext, n: int) -> dict[str, object]:
    values = pa.array(secure_rng().lognormal(3.0, 1.0, n))
    perturbed, t_perturb = timed(lambda: Perturb().apply(values, context), repeat=2)
    shuffled, t_shuffle = timed(lambda: Shuffle().apply(values, context), repeat=2)
    before, after = values.to_numpy(), np.asarray(perturbed.to_numpy(zero_copy_only=False))
    return {
        "values": n,
        "perturb_per_s": round(n / t_perturb),
        "shuffle_per_s": round(n / t_shuffle),
        "checks": {
            "perturb_moved_values": bool(np.mean(after != before) > 0.5),
            "perturb_mean_and_std_kept": bool(
                abs(after.mean() - before.mean()) < 0.01 * before.mean()
                and abs(after.std() - before.std()) < 0.01 * before.std()
            ),
            "shuffle_is_a_permutation": bool(
                np.array_equal(np.sort(shuffled.to_numpy()), np.sort(before))
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=50_000)
    args = parser.parse_args()
    load_before = load_average()
    with scratch_keyring() as keyring:
        context = OperatorContext(purpose="analytics", column="name", keys=keyring)
        report: dict[str, dict[str, object]] = {
            "fake_substitution": bench_fakes(context, args.values, args.slice),
            "card_masking": bench_card_mask(context, args.values, args.slice),
            "numeric": bench_numeric(context, args.values),
        }
    checks = [bool(v) for part in report.values() for v in part["checks"].values()]  # type: ignore[union-attr]
    report["machine"] = machine(load_before)
    print(json.dumps({**report, "all_checks_pass": all(checks)}, indent=2))
    if not all(checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
