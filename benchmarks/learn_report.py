"""Regenerate the private-personalization tables and plots in docs/benchmarks.md.

Runs ``bench_recsys.py`` (recommenders on Online Retail and MovieLens 100K, plots to
``docs/img``), ``bench_churn.py`` (churn and CLV with DP-SGD, DP k-means) and
``bench_pate.py`` (PATE on churn) with this interpreter, keeps each JSON in
``docs/results/``, and rewrites the part of ``docs/benchmarks.md`` between the
``<!-- learn:begin -->`` and ``<!-- learn:end -->`` markers. Usage::

    .venv/bin/python benchmarks/learn_report.py            # run everything (~10 min)
    .venv/bin/python benchmarks/learn_report.py --render   # re-render from docs/results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- learn:begin -->", "<!-- learn:end -->"
BENCHES = {
    "recsys": ["benchmarks/bench_recsys.py", "--plots", "docs/img"],
    "churn": ["benchmarks/bench_churn.py"],
    "pate": ["benchmarks/bench_pate.py"],
}
K = 20
PRIVATE_EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0)


def run_benches() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, command in BENCHES.items():
        print(f"running {' '.join(command)}", file=sys.stderr)
        done = subprocess.run(
            [sys.executable, *command], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True
        )
        json.loads(done.stdout)  # refuse to keep anything that is not one JSON object
        (RESULTS / f"{name}.json").write_text(done.stdout)


def _f(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _eps(value: float | None) -> str:
    return "∞ (not private)" if value is None else f"{value:g}"


def _rows(results: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    return list(results["results"].get(dataset, []))


def _find(rows: list[dict[str, Any]], model: str, eps: float | None) -> dict[str, Any] | None:
    return next((r for r in rows if r["model_name"] == model and r["epsilon_asked"] == eps), None)


def recsys_table(results: dict[str, Any], dataset: str) -> list[str]:
    rows = _rows(results, dataset)
    head = [
        f"| model | ε | Recall@{K} all | Recall@{K} new | NDCG@{K} new | MAP@{K} new "
        "| coverage (new) | fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    body = []
    for r in rows:
        sd = r.get(f"recall@{K}_new_sd")
        new = _f(r[f"recall@{K}_new"], 4) + (f" ± {sd:.4f}" if sd else "")
        body.append(
            f"| {r['model_name']} | {_eps(r['epsilon_asked'])} | {_f(r[f'recall@{K}'], 4)} "
            f"| {new} | {_f(r[f'ndcg@{K}_new'], 4)} | {_f(r[f'map@{K}_new'], 4)} "
            f"| {_f(r.get('coverage_new'))} | {_f(r.get('fit_s'), 1)} |"
        )
    return head + body


def goals_table(results: dict[str, Any], dataset: str) -> list[str]:
    """The issue's goals: share of non-private ALS on new items; DP popularity; buy-again."""
    rows = _rows(results, dataset)
    als = _find(rows, "als", None)
    if als is None:
        return []
    reference = als[f"recall@{K}_new"]
    out = [
        f"| private model | ε | Recall@{K} new | share of ALS ({reference:.4f}) "
        "| share of the same model at ε = ∞ "
        f"| DP popularity, same ε | Recall@{K} all | buy-again, same ε |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    private = sorted({r["model_name"] for r in rows if r["epsilon_asked"] is not None})
    for model in (m for m in private if m not in ("dp-popularity", "buy-again")):
        for eps in PRIVATE_EPSILONS:
            r = _find(rows, model, eps)
            if r is None:
                continue
            pop = _find(rows, "dp-popularity", eps)
            again = _find(rows, "buy-again", eps)
            exact = _find(rows, model, None)
            own = f"{r[f'recall@{K}_new'] / exact[f'recall@{K}_new']:.0%}" if exact else "–"
            out.append(
                f"| {model} | {eps:g} | {r[f'recall@{K}_new']:.4f} "
                f"| {r[f'recall@{K}_new'] / reference:.0%} | {own} "
                f"| {_f(pop and pop[f'recall@{K}_new'], 4)} | {r[f'recall@{K}']:.4f} "
                f"| {_f(again and again[f'recall@{K}'], 4)} |"
            )
    return out


def recsys_section(results: dict[str, Any]) -> list[str]:
    out = ["### Recommenders", ""]
    titles = {
        "online_retail": "Online Retail (train 2010-12-01 … 2011-06-30, test 2011-07 … 09)",
        "movielens_100k": "MovieLens 100K, one global time cut (last 20% of ratings)",
        "movielens_100k_per_user": "MovieLens 100K, each user's last 20% of ratings",
    }
    for dataset, split in results["splits"].items():
        out += [f"#### {titles.get(dataset, dataset)}", ""]
        out += [f"Split: {json.dumps(split, ensure_ascii=False)}.", ""]
        goals = goals_table(results, dataset)
        if goals:
            out += ["Against the goals (private models, mean of the seeds):", "", *goals, ""]
        out += [*recsys_table(results, dataset), ""]
        out += [f"![privacy-utility curves, {dataset}](img/recsys_{dataset}.svg)", ""]
    if results.get("skipped"):
        out += [f"Skipped: {json.dumps(results['skipped'], ensure_ascii=False)}", ""]
    return out


def churn_section(churn: dict[str, Any]) -> list[str]:
    t = churn["timing"]
    out = [
        "### Churn and CLV with DP-SGD (Opacus), DP k-means",
        "",
        f"{churn['customers']:,} customers, churn rate {churn['churn_rate']}, model "
        f"{churn['model']}, {churn['epochs']} epochs, batch {churn['batch_size']}, "
        f"δ = {churn['delta']:g}, unit: {churn['unit']}, {churn['seeds']} seeds.",
        "",
        "| ε | churn AUC | CLV Spearman | CLV MAE (log1p) | noise multiplier |",
        "| --- | --- | --- | --- | --- |",
    ]
    for eps in ("inf", "1", "3", "8"):
        label = "∞ (not private)" if eps == "inf" else eps
        out.append(
            f"| {label} | {churn['churn_auc'][eps]:.4f} | {churn['clv_spearman'][eps]:.4f} "
            f"| {churn['clv_mae_log1p'][eps]:.3f} | {_f(churn['noise_multiplier'].get(eps), 2)} |"
        )
    out += [
        "",
        f"Training time, same model, epochs and batch: non-private {t['non_private_train_s']} s, "
        f"DP-SGD {t['dp_train_s']} s: **{t['dp_over_non_private']}×** (goal ≤ 2×); noise "
        f"calibration once before training {t['dp_noise_calibration_s']} s.",
        "",
        "| DP k-means (k = 4) | ρ | inertia / sklearn | ARI vs sklearn |",
        "| --- | --- | --- | --- |",
    ]
    km = churn["kmeans"]
    for eps in ("1", "3", "8"):
        r = km[eps]
        out.append(
            f"| ε = {eps} | {r['rho']:.4f} | {r['inertia_over_sklearn']:.3f} "
            f"| {r['ari_vs_sklearn']:.3f} |"
        )
    return [*out, ""]


def pate_section(pate: dict[str, Any]) -> list[str]:
    out = [
        "### PATE on churn",
        "",
        f"{pate['customers']:,} customers; split {json.dumps(pate['split'])}; "
        f"{pate['n_teachers']} teachers on disjoint customer shards; δ = {pate['delta']:g}; "
        f"{pate['runs']} runs (mean).",
        "",
        "| model | ε charged | ε data-dependent | queries answered / checked | accuracy | AUC |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in pate["results"].items():
        answered = f"{r['answered']:g} / {r['checked']:g}" if "answered" in r else "–"
        out.append(
            f"| {name.replace('_', ' ')} | {_f(r.get('epsilon_charged'))} "
            f"| {_f(r.get('epsilon_data_dependent'))} | {answered} "
            f"| {r['accuracy']:.3f} ± {r['accuracy_sd']:.3f} | {r['auc']:.3f} |"
        )
    return [*out, ""]


def render() -> str:
    loaded = {name: json.loads((RESULTS / f"{name}.json").read_text()) for name in BENCHES}
    lines = [
        BEGIN,
        "<!-- generated by benchmarks/learn_report.py from docs/results/*.json; do not edit -->",
        "",
        *recsys_section(loaded["recsys"]),
        *churn_section(loaded["churn"]),
        *pate_section(loaded["pate"]),
        END,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true", help="only re-render the tables")
    args = parser.parse_args()
    if not args.render:
        run_benches()
    text = DOC.read_text()
    block = render()
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Private personalization\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
