"""The HTML report in a real browser: headless Chromium shows its tables, pictures and plots,
and sorts a table when a header is clicked.

Needs Debian's ``chromium`` and ``chromedriver`` (``apt-get install chromium chromium-driver``;
``.ci/run`` installs them); skipped where they are missing. Selenium is pointed at both so
that it never runs selenium-manager, which would try the network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_report import make_report_records

from genbench.results.report import write_report

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs chromium and chromedriver on PATH (Debian: apt-get install chromium "
           "chromium-driver; .ci/run installs them)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The report of test_report's records, open in headless Chromium."""
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    root = tmp_path_factory.mktemp("browser")
    index = write_report(make_report_records(root / "work"), root / "leaderboards")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")
        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1400,1000"):
            options.add_argument(arg)
        options.binary_location = CHROMIUM
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get(Path(index).as_uri())  # returns once the page and its images have loaded
        yield driver
    finally:
        driver.quit()


def test_tables_are_displayed_with_their_rows(page):
    from selenium.webdriver.common.by import By

    tables = page.find_elements(By.CSS_SELECTOR, "table.sortable")
    assert [t.is_displayed() for t in tables] == [True] * 4
    rows = [len(t.find_elements(By.CSS_SELECTOR, "tbody tr")) for t in tables]
    assert rows == [2, 3, 2, 6]  # the odd-named dataset, then ring8: models, runs


def test_every_picture_and_plot_has_loaded(page):
    images = page.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
        "i.naturalWidth, i.getBoundingClientRect().width]);")
    # the odd dataset: 1 summary and 2 run thumbnails (no curves); ring8: 2 + 6 + 6 curves;
    # plots: ring8's two and the odd dataset's compute plot
    assert len(images) == 1 + 2 + 2 + 6 + 6 + 3
    for src, complete, natural_width, shown_width in images:
        assert complete and natural_width > 0 and shown_width > 0, src
    sources = {src for src, *_ in images}
    assert {"report/ring8-pr.png", "report/ring8-compute.png",
            "report/paired-folder_data_x-compute.png"} <= sources
    placeholders = page.execute_script(
        "return Array.from(document.querySelectorAll('.noimg')).map(e => e.textContent)")
    assert sorted(placeholders) == ["no curve"] * 3 + ["no image"] * 2


def _column(page, table: int, header: str) -> tuple[object, list[str]]:
    """The header cell named ``header`` in the ``table``-th table, and that column's sort keys
    in row order."""
    th = page.execute_script(
        "const ths = document.querySelectorAll('table.sortable')[arguments[0]].tHead.rows[0]"
        ".cells; return Array.from(ths).find(th => th.textContent.startsWith(arguments[1]));",
        table, header)
    keys = page.execute_script(
        "const t = document.querySelectorAll('table.sortable')[arguments[0]];"
        "return Array.from(t.tBodies[0].rows).map(r => r.cells[arguments[1]].dataset.sort);",
        table, page.execute_script("return arguments[0].cellIndex", th))
    return th, keys


def test_clicking_a_header_sorts_ascending_then_descending(page):
    th, keys = _column(page, 3, "FD[raw]")  # ring8's runs; wgan seed 2 has no FD
    assert keys != sorted(keys)
    th.click()
    th, keys = _column(page, 3, "FD[raw]")
    numbers = [float(k) for k in keys[:-1]]
    assert numbers == sorted(numbers) and keys[-1] == ""  # blank last
    assert th.get_attribute("aria-sort") == "ascending"
    th.click()
    th, keys = _column(page, 3, "FD[raw]")
    numbers = [float(k) for k in keys[:-1]]
    assert numbers == sorted(numbers, reverse=True) and keys[-1] == ""  # blank still last
    assert th.get_attribute("aria-sort") == "descending"
    other, seeds = _column(page, 3, "seed")
    assert other.get_attribute("aria-sort") is None  # only the sorted column says so
    other.click()
    assert [float(s) for s in _column(page, 3, "seed")[1]] == [0, 0, 1, 1, 2, 2]
