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

import numpy as np
import pyarrow as pa

from _harness import machine, scratch_keyring, timed
from shopveil._core import secure_rng
from shopveil._core.operators import OperatorContext
from shopveil.mask import FakeKind, FakeSubstitute, MaskCard, Perturb, Shuffle


def bench_fakes(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    ids = pa.array([str(i) for i in range(20_000_000, 20_000_000 + n)], pa.string())
    FakeSubstitute().apply(ids.slice(0, 10), context)  # build the pools outside the timing
    _, t_names = timed(lambda: FakeSubstitute().apply(ids, context), repeat=2)
    _, t_emails = timed(lambda: FakeSubstitute(kind=FakeKind.EMAIL).apply(ids, context), repeat=2)

    from faker import Faker
    from mimesis import Person

    faker = Faker("en_GB")
    _, t_faker = timed(lambda: [faker.name() for _ in range(slice_n // 10)])
    person = Person()
    _, t_mimesis = timed(lambda: [person.full_name() for _ in range(slice_n)])
    ours = n / t_names
    return {
        "values": n,
        "shopveil_names_per_s": round(ours),
        "shopveil_emails_per_s": round(n / t_emails),
        "faker_names_per_s": round(slice_n // 10 / t_faker),
        "mimesis_names_per_s": round(slice_n / t_mimesis),
        "ratio_vs_faker": round(ours / (slice_n // 10 / t_faker), 1),
        "ratio_vs_mimesis": round(ours / (slice_n / t_mimesis), 1),
    }


def bench_card_mask(context: OperatorContext, n: int, slice_n: int) -> dict[str, object]:
    rng = np.random.default_rng(2)  # benchmark data, not a release
    digits = rng.integers(0, 10, (n, 16)).astype(np.uint8) + ord("0")
    cards = pa.array(digits.view("S16").reshape(-1).astype(str), pa.string())
    _, t_ours = timed(lambda: MaskCard().apply(cards, context), repeat=2)

    from presidio_anonymizer.operators import Mask

    mask = Mask()
    params = {"masking_char": "*", "chars_to_mask": 12, "from_end": False}
    head = cards.slice(0, slice_n).to_pylist()
    _, t_presidio = timed(lambda: [mask.operate(v, params) for v in head])
    ours = n / t_ours
    return {
        "values": n,
        "shopveil_values_per_s": round(ours),
        "presidio_mask_per_s": round(slice_n / t_presidio),
        "ratio_vs_presidio": round(ours / (slice_n / t_presidio), 1),
    }


def bench_numeric(context: OperatorContext, n: int) -> dict[str, object]:
    values = pa.array(secure_rng().lognormal(3.0, 1.0, n))
    _, t_perturb = timed(lambda: Perturb().apply(values, context), repeat=2)
    _, t_shuffle = timed(lambda: Shuffle().apply(values, context), repeat=2)
    return {
        "values": n,
        "perturb_per_s": round(n / t_perturb),
        "shuffle_per_s": round(n / t_shuffle),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=50_000)
    args = parser.parse_args()
    with scratch_keyring() as keyring:
        context = OperatorContext(purpose="analytics", column="name", keys=keyring)
        report = {
            "machine": machine(),
            "fake_substitution": bench_fakes(context, args.values, args.slice),
            "card_masking": bench_card_mask(context, args.values, args.slice),
            "numeric": bench_numeric(context, args.values),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
