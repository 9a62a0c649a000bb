"""The running service the service tests share (one per store backend, for the session),
and the headless Chromium the browser tests drive."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from _served import BACKENDS, Served, serve


@pytest.fixture(scope="session", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``shopveil serve`` on a fresh store with a key per role, a dataset and a model."""
    with serve(request.param, tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium through Selenium, headless, logging the page's console."""
    from selenium import webdriver

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:  # `make test` installs them: missing fails
        pytest.fail("Debian's chromium and chromedriver are missing: make system-tools")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,2000"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingOptions", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
