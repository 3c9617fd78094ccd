"""report.html in a real headless browser (Debian's chromium, driven by selenium).

A report made here on a tiny budget (``moonshot compare`` over two planner runs, and a page
with a GIF and an MP4) must load with no console error, every image and video decoded, the
tables holding the numbers of its ``report.md``, and a screenshot that is not blank.

Without chromium, chromedriver or selenium the test skips, except in CI (``CI`` set), where it
fails: ``.ci/run`` installs them.
"""

import io
import os
import re
import shutil
import time

import numpy as np
import pytest

from moonshot.cli import main
from moonshot.evaluation.html_report import report_meta, write_report
from moonshot.evaluation.render import write_video

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars")


def _missing(what: str):
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI; .ci/run installs it")
    pytest.skip(f"{what} is not installed (apt-get install chromium chromium-driver; "
                "pip install selenium)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        _missing("chromium" if not binary else "chromedriver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the explicit driver path keeps Selenium Manager from looking for (downloading) one
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _markdown_tables(md: str) -> list[list[list[str]]]:
    """Pipe tables of a Markdown text, cell texts without inline markup."""
    tables, current = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [c.strip().replace("`", "").replace("**", "")
                     for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            if current is None:
                current = []
                tables.append(current)
            current.append(cells)
        else:
            current = None
    return tables


def _open(browser, page):
    browser.get(page.resolve().as_uri())
    deadline = time.monotonic() + 20
    state = {}
    while time.monotonic() < deadline:  # wait until every image and video has loaded
        state = browser.execute_script("""
            const imgs = Array.from(document.images), vids = Array.from(
                document.querySelectorAll('video'));
            return {ready: document.readyState === 'complete'
                        && imgs.every(i => i.complete) && vids.every(v => v.readyState >= 2),
                    imgs: imgs.map(i => [i.getAttribute('src'), i.naturalWidth]),
                    vids: vids.map(v => [v.getAttribute('src'), v.videoWidth,
                                         v.error && v.error.code])};""")
        if state["ready"]:
            break
        time.sleep(0.1)
    return state


def _check_page(browser, page, expect_video: bool):
    state = _open(browser, page)
    assert state["ready"], f"page did not finish loading: {state}"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    assert state["imgs"] and all(w > 0 for _, w in state["imgs"]), state["imgs"]
    assert all(w > 0 and not err for _, w, err in state["vids"]), state["vids"]
    assert bool(state["vids"]) == expect_video
    html_tables = browser.execute_script("""
        return Array.from(document.querySelectorAll('main table')).map(t =>
            Array.from(t.rows).map(r => Array.from(r.cells).map(c => c.textContent.trim())));""")
    md_tables = _markdown_tables((page.parent / "report.md").read_text())
    assert md_tables and html_tables == md_tables
    import imageio.v2 as imageio

    shot = imageio.imread(io.BytesIO(browser.get_screenshot_as_png()))[..., :3]
    assert shot.shape[0] > 500 and shot.shape[1] > 500
    assert shot.std() > 20 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 50
    return html_tables


@pytest.fixture(scope="module")
def compare_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        assert main(["plan", "moon", "--episodes", "3", "--seed", str(seed), "--target", "soi",
                     "--out", str(root / f"plan-s{seed}")]) == 0
    out = root / "cmp"
    assert main(["compare", str(root / "plan-s0"), str(root / "plan-s1"), "--out",
                 str(out)]) == 0
    return out


def test_compare_report_in_a_browser(browser, compare_report):
    tables = _check_page(browser, compare_report / "report.html", expect_video=False)
    assert "moonshot compare" in browser.find_element("css selector", "header").text
    # clicking a numeric header sorts its rows by number
    col = tables[0][0].index("episodes")
    header = browser.find_elements("css selector", "main table.sortable th")[col]
    for expected in (sorted, lambda v: sorted(v, reverse=True)):
        header.click()
        values = [float(v) for v in browser.execute_script(
            "return Array.from(document.querySelector('main table').tBodies[0].rows)"
            ".map(r => r.cells[arguments[0]].textContent)", col)]
        assert values == expected(values)


def test_page_with_gif_and_mp4_in_a_browser(browser, compare_report, tmp_path):
    cols, rows = np.meshgrid(np.arange(96) * 2, np.arange(64) * 3)
    frames = [np.stack([cols, (rows + 8 * i) % 256, np.full_like(cols, 90)], axis=-1)
              .astype(np.uint8) for i in range(12)]
    write_video(frames, tmp_path / "media" / "drive.gif", 6)
    write_video(frames, tmp_path / "media" / "drive.mp4", 6)
    shutil.copy(compare_report / "learning_curves.png", tmp_path / "curves.png")
    md = ((compare_report / "efficiency.md").read_text() + "\n![curves](curves.png)\n\n"
          "![a drive (GIF)](media/drive.gif)\n\n![a drive (MP4)](media/drive.mp4)\n")
    page = write_report(tmp_path, "# Episodes\n\n" + md, "episodes",
                        report_meta("pytest", seeds=0, wall_time_s=1.0))
    _check_page(browser, page, expect_video=True)
