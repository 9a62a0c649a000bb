"""The dashboard and governance pages in a real Chromium (Debian's, driven by Selenium).

The browser signs in through the form, then each page must render its plots and
tables with no console error. A screenshot of each page is kept under pytest's
temporary folder (``.../artifacts/``), never in the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _served import Served
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

pytestmark = pytest.mark.slow


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<pytest's temp folder>/artifacts/<test>-<backend>/``: kept after the run."""
    name = request.node.name.replace("[", "-").rstrip("]")
    folder = tmp_path_factory.getbasetemp() / "artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _errors(driver: webdriver.Chrome) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_dashboard_and_governance_pages_render_plots_without_console_errors(
    served: Served, browser: webdriver.Chrome, artifacts: Path
) -> None:
    with served.client("analyst") as http:  # something to plot: a charge and a decision
        charged = http.post("/v1/query", json={"sql": "SELECT COUNT(*) AS n FROM orders",
                                               "dataset": "orders", "epsilon": 0.1,
                                               "max_contributions": 10})  # fmt: skip
        assert charged.status_code == 200, charged.text
    with served.client("steward") as http:
        put = http.put("/v1/consent/C-BROWSER-1", json={"decisions": {"marketing": "granted"}})
        assert put.status_code == 200, put.text

    browser.get(f"{served.url}/")
    assert browser.current_url.endswith("/login")
    browser.find_element(By.NAME, "key").send_keys(served.keys["steward"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url == f"{served.url}/")
    assert _errors(browser) == []
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: not readable

    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings == ["Privacy budgets", "Re-identification risk of recent releases",
                        "Consent", "Audit log"]  # fmt: skip
    assert browser.find_elements(By.CSS_SELECTOR, "figure.plot svg polyline.series")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.plot svg rect.bar")) >= 2
    assert "Chain verified" in browser.find_element(By.CLASS_NAME, "verified").text
    style = browser.find_element(By.TAG_NAME, "header").value_of_css_property("background-color")
    assert style == "rgba(36, 41, 47, 1)"  # the packaged style sheet was loaded
    assert browser.save_screenshot(str(artifacts / "dashboard.png"))

    for name, title in (("ropa", "Record of processing activities"), ("dpia", "DPIA draft")):
        browser.get(f"{served.url}/governance/{name}")
        assert browser.find_element(By.TAG_NAME, "h1").text == title
        assert browser.find_elements(By.CSS_SELECTOR, "article.document table")
        assert _errors(browser) == []
        assert browser.save_screenshot(str(artifacts / f"{name}.png"))
    assert (artifacts / "dashboard.png").stat().st_size > 10_000
