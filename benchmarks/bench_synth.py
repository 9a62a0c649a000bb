"""Benchmark DP synthesis (MST, AIM) on Adult against SmartNoise's MST and non-private baselines.

Adult (30,162 rows, 9 columns) is split once at random (seeded, public) into a training
part the synthesizers see (80%) and a control part they never see (20%, anonymeter's
control set). Each synthesizer draws as many rows as the training part has:

* ``shopveil-mst``: :func:`shopveil.synth.synthesize` at (ε, δ), age binned over the
  public range [17, 92) in 5-year bins, every other column's values chosen privately;
* ``shopveil-aim``: the same with ``method="aim"`` (workload: all 3-way marginals);
* ``smartnoise-mst``: SmartNoise Synth's MST (private-pgm inside), at the same (ε, δ),
  every column categorical (SmartNoise reads the category lists off the data: a
  public-domain assumption ShopVeil does not make);
* ``independent`` (not private): each column drawn from its exact 1-way marginal;
* ``resample`` (not private): training rows drawn with replacement (the raw table).

Utility: the average, over all 84 three-way marginals, of the total variation distance
between the synthetic and training marginals (age in the same 5-year bins for all);
also over all 1- and 2-way marginals; and the ROC AUC on the real control rows of a
logistic regression for salary > 50K trained on the synthetic rows. Privacy: the
distance from each synthetic row to its closest training row (Hamming, over the 9
columns; share of exact copies), and anonymeter's singling-out, linkability and
inference risks (attack on training rows, baseline from the control rows). Outputs are
checked in the run (row counts, columns, values inside the public domain); the JSON
says how busy the machine was.

    python benchmarks/bench_synth.py                     # everything (minutes)
    python benchmarks/bench_synth.py --quick             # ShopVeil and baselines only
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from _harness import load_average, machine, peak_rss_mb, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerRow
from shopveil.data import read_table
from shopveil.dp import Ledger, PeopleKey
from shopveil.store import Store
from shopveil.synth import SynthOptions, synthesize

DATA = shared_data() / "adult-arx" / "adult.csv"
AGE_LOW, AGE_HIGH, AGE_BINS = 17, 92, 15  # public range of Adult's ages; 5-year bins


def load() -> pd.DataFrame:
    table = read_table(DATA)
    table = table.set_column(
        table.column_names.index("age"), "age", pc.cast(table.column("age"), pa.int64())
    )
    return table.to_pandas()


def binned(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({"age": "float64"}).copy()
    width = (AGE_HIGH - AGE_LOW) / AGE_BINS
    out["age"] = np.floor((out["age"].clip(AGE_LOW, AGE_HIGH - 1e-9) - AGE_LOW) / width)
    return out.astype(str)


def marginal_errors(real: pd.DataFrame, synth: pd.DataFrame, way: int) -> float:
    """Mean total variation distance over every ``way``-way marginal."""
    a, b = binned(real), binned(synth)
    errors = []
    for cols in itertools.combinations(a.columns, way):
        p = a.groupby(list(cols)).size() / len(a)
        q = b.groupby(list(cols)).size() / len(b)
        p, q = p.align(q, fill_value=0.0)
        errors.append(0.5 * float(np.abs(p - q).sum()))
    return float(np.mean(errors))


def closest_record(real: pd.DataFrame, synth: pd.DataFrame, sample: int, rng: Any) -> dict:
    """Hamming distance from sampled synthetic rows to their closest real row."""
    cols = list(real.columns)
    codes = {
        c: {v: i for i, v in enumerate(pd.unique(pd.concat([real[c], synth[c]])))} for c in cols
    }
    r = np.column_stack([real[c].map(codes[c]).to_numpy() for c in cols])
    picked = synth.iloc[rng.choice(len(synth), min(sample, len(synth)), replace=False)]
    s = np.column_stack([picked[c].map(codes[c]).to_numpy() for c in cols])
    best = np.array([(r != row).sum(axis=1).min() for row in s])
    return {
        "median": float(np.median(best)),
        "mean": round(float(best.mean()), 3),
        "exact_copies": round(float((best == 0).mean()), 4),
    }


def downstream_auc(synth: pd.DataFrame, control: pd.DataFrame) -> float | None:
    """ROC AUC on the real control rows of a model trained on ``synth`` (salary > 50K)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.preprocessing import OneHotEncoder
    except ImportError:
        return None
    target = "salary-class"
    features = [c for c in control.columns if c != target]
    y = (synth[target].astype(str) == ">50K").to_numpy()
    if y.all() or not y.any():
        return 0.5
    encode = OneHotEncoder(handle_unknown="ignore")
    x = encode.fit_transform(binned(synth)[features])
    model = LogisticRegression(max_iter=1000).fit(x, y)
    scores = model.predict_proba(encode.transform(binned(control)[features]))[:, 1]
    return round(float(roc_auc_score((control[target] == ">50K").to_numpy(), scores)), 4)


def shopveil_synth(
    train: pd.DataFrame, epsilon: float, delta: float, method: str = "mst"
) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'ledger.db'}")
        ledger = Ledger(
            store, people_key=PeopleKey(secrets.token_bytes(32)), default_total=ApproxDP(10, 1e-3)
        )
        options = SynthOptions(
            epsilon=epsilon,
            delta=delta,
            bounds={"age": (AGE_LOW, AGE_HIGH)},
            bins=AGE_BINS,
            rows=len(train),
            method=method,
        )
        table = pa.Table.from_pandas(train, preserve_index=False)
        result = synthesize(table, options, ledger=ledger, dataset="adult", scan=False)
        charged = ledger.history("adult", PerRow())
        store.close()
    assert len(charged) == 1 and charged[0].cost == ApproxDP(epsilon, delta), charged
    return result.table.to_pandas()


def smartnoise_mst(train: pd.DataFrame, epsilon: float, delta: float) -> pd.DataFrame:
    from snsynth import Synthesizer

    synth = Synthesizer.create("mst", epsilon=epsilon, delta=delta)
    synth.fit(
        train.astype(str),
        preprocessor_eps=0.0,
        categorical_columns=list(train.columns),
        continuous_columns=[],
    )
    return synth.sample(len(train)).astype({"age": "int64"})


def independent(train: pd.DataFrame, rng: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {c: train[c].to_numpy()[rng.integers(0, len(train), len(train))] for c in train.columns}
    )


def resample(train: pd.DataFrame, rng: Any) -> pd.DataFrame:
    return train.iloc[rng.integers(0, len(train), len(train))].reset_index(drop=True)


def anonymeter_risks(
    train: pd.DataFrame, synth: pd.DataFrame, control: pd.DataFrame, attacks: int
) -> dict:
    from anonymeter.evaluators import (
        InferenceEvaluator,
        LinkabilityEvaluator,
        SinglingOutEvaluator,
    )

    a, s, c = (f.astype(str) for f in (train, synth, control))
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = SinglingOutEvaluator(ori=a, syn=s, control=c, n_attacks=attacks).evaluate(
            mode="multivariate"
        )
        out["singling_out"] = _risk(single.risk())
        aux = [
            ["sex", "age", "race", "native-country"],
            ["marital-status", "education", "workclass", "occupation"],
        ]
        link = LinkabilityEvaluator(
            ori=a, syn=s, control=c, n_attacks=attacks, aux_cols=aux, n_neighbors=10
        )
        out["linkability"] = _risk(link.evaluate(n_jobs=1).risk())
        secret = "salary-class"
        infer = InferenceEvaluator(
            ori=a,
            syn=s,
            control=c,
            aux_cols=[x for x in a.columns if x != secret],
            secret=secret,
            n_attacks=attacks,
        )
        out["inference_salary"] = _risk(infer.evaluate(n_jobs=1).risk())
    return out


def _risk(risk: Any) -> dict:
    return {"risk": round(float(risk.value), 4), "ci": [round(float(x), 4) for x in risk.ci]}


def check(name: str, synth: pd.DataFrame, train: pd.DataFrame) -> None:
    assert len(synth) == len(train), (name, len(synth))
    assert list(synth.columns) == list(train.columns), (name, list(synth.columns))
    ages = synth["age"].dropna()
    assert ((ages >= AGE_LOW - 1) & (ages <= AGE_HIGH)).all(), name
    for c in train.columns:
        if c != "age":
            extra = set(synth[c].dropna().astype(str)) - set(train[c].astype(str))
            assert not extra, (name, c, sorted(extra)[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--quick", action="store_true", help="no SmartNoise, no anonymeter")
    parser.add_argument("--attacks", type=int, default=500, help="anonymeter attacks per risk")
    args = parser.parse_args()
    if not DATA.exists():
        print(json.dumps({"error": f"{DATA} is missing"}))
        return 2
    load_before = load_average()
    frame = load()
    split = np.random.default_rng(2024)  # the public train/control split, never noise
    order = split.permutation(len(frame))
    cut = int(0.8 * len(frame))
    train = frame.iloc[order[:cut]].reset_index(drop=True)
    control = frame.iloc[order[cut:]].reset_index(drop=True)
    draws = np.random.default_rng(7)  # baselines' draws (not private anyway)

    runs: dict[str, Any] = {
        "shopveil-mst": lambda: shopveil_synth(train, args.epsilon, args.delta),
        "shopveil-aim": lambda: shopveil_synth(train, args.epsilon, args.delta, "aim"),
        "independent (not private)": lambda: independent(train, draws),
        "resample (not private)": lambda: resample(train, draws),
    }
    if not args.quick:
        runs["smartnoise-mst"] = lambda: smartnoise_mst(train, args.epsilon, args.delta)
    results: dict[str, Any] = {}
    for name, run in runs.items():
        start, cpu = time.perf_counter(), time.process_time()
        try:
            synth = run()
        except ImportError as exc:
            results[name] = {"skipped": f"not installed: {exc.name}"}
            continue
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        check(name, synth, train)
        row: dict[str, Any] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2)}
        for way in (1, 2, 3):
            row[f"tvd_{way}way"] = round(marginal_errors(train, synth, way), 4)
        row["closest_record"] = closest_record(train, synth, 2000, np.random.default_rng(1))
        row["downstream_auc"] = downstream_auc(synth, control)
        if not args.quick:
            try:
                row["anonymeter"] = anonymeter_risks(train, synth, control, args.attacks)
            except ImportError as exc:
                row["anonymeter"] = {"skipped": f"not installed: {exc.name}"}
        results[name] = row
        print(json.dumps({name: row}), file=sys.stderr)
    ratios = {
        f"{mine}_3way_error_over_{k.split()[0]}": round(
            results[mine]["tvd_3way"] / v["tvd_3way"], 3
        )
        for mine in ("shopveil-aim", "shopveil-mst")
        for k, v in results.items()
        if k != mine and "tvd_3way" in v
    }
    control_dcr = closest_record(train, control, 2000, np.random.default_rng(1))
    print(
        json.dumps(
            {
                "benchmark": "synth",
                "data": "ARX Adult",
                "rows_train": len(train),
                "rows_control": len(control),
                "epsilon": args.epsilon,
                "delta": args.delta,
                "results": results,
                "ratios": ratios,
                "control_closest_record": control_dcr,
                "peak_rss_mb": peak_rss_mb(),
                "machine": machine(load_before),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
