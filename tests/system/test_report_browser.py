"""The scorecard pages in a real Chromium (Debian's, driven by Selenium): plots rendered,
no console error, nothing fetched from elsewhere."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from _purchases import purchases
from shopveil import open_workspace
from shopveil.anonymity import KAnonymity, anonymize_mondrian
from shopveil.data import read_table
from shopveil.learn import FitContext, NoSignalWarning, build_recommender, save_recommender
from shopveil.scorecard import model_scorecard, release_scorecard, render_scorecard

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult" / "adult_slice.csv"
pytestmark = pytest.mark.slow


def _pages(folder: Path) -> dict[str, Path]:
    import pyarrow.csv as pacsv

    original = read_table(ADULT)
    qi = ["age", "sex", "race", "marital-status"]
    pacsv.write_csv(original, folder / "original.csv")
    pacsv.write_csv(anonymize_mondrian(original, qi, [KAnonymity(10)]).table, folder / "k.csv")
    release = release_scorecard(
        folder / "k.csv", qi=qi, sensitive=["salary-class"], original=folder / "original.csv"
    )
    data = purchases(customers=120)
    config = build_recommender("dp-als", 1.0, {})
    with open_workspace() as workspace, warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSignalWarning)
        fitted = config.fit(data, FitContext(ledger=workspace.ledger, dataset="purchases"))
        path = save_recommender(fitted, folder / "m.npz", train=data, config=config,
                                dataset="purchases")  # fmt: skip
        model = model_scorecard(path, data, epsilons=(0.5, 2, 8), shadows=3, audit=workspace.audit)
    out = {}
    for name, card in (("release", release), ("model", model)):
        out[name] = folder / f"{name}.html"
        out[name].write_text(render_scorecard(card), encoding="utf-8")
    return out


def test_scorecards_render_their_plots_without_console_errors(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    pages = _pages(tmp_path)
    expected = {"release": ("rect.bar", 2), "model": ("circle.point", 6)}
    for name, page in pages.items():
        browser.get(page.as_uri())
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (name, errors)
        assert browser.find_element(By.ID, "verdict").text.split(":")[0] in (
            "PASS", "AT RISK", "NOT PRIVATE"
        )  # fmt: skip
        plots = browser.find_elements(By.CSS_SELECTOR, "figure.plot svg")
        assert len(plots) == 2, name
        for plot in plots:  # laid out with a real size, not collapsed
            assert plot.size["width"] > 300 and plot.size["height"] > 100
        selector, least = expected[name]
        marks = browser.find_elements(By.CSS_SELECTOR, f"figure.plot svg {selector}")
        assert len(marks) >= least, name
        assert all(m.is_displayed() for m in marks)
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert resources == []  # no CDN, no script, no font: the page is all there is
    browser.get(pages["model"].as_uri())
    assert browser.find_elements(By.CSS_SELECTOR, "ul.audit li")  # the fit's charge, by seq
