"""report.md + report.html: what the writer puts on the page (the browser test opens it)."""

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from moonshot.evaluation.html_report import markdown_to_html, report_meta, write_report
from moonshot.evaluation.render import write_video


class _Page(HTMLParser):
    """Tags with their attributes, and the text of every table cell."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture
def media(tmp_path):
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)]
    write_video(frames, tmp_path / "media" / "drive.gif", 5)
    write_video(frames, tmp_path / "media" / "drive.mp4", 5)
    return tmp_path


MD = """# A report

Text with **bold**, `code` and <script>alert(1)</script>.

| agent | success | episodes |
|---|---|---|
| ppo | 79% [71–86] | 1,234 |
| planner | 100% | — |

- one
- two

![the drive](media/drive.gif)

![the drive, as a video](media/drive.mp4)
"""


def test_write_report_writes_markdown_and_a_page_from_the_same_content(media):
    meta = report_meta("moonshot compare a b --out x", seeds=[0, 1], wall_time_s=75.2)
    page_path = write_report(media, MD, "A report", meta)
    assert page_path == media / "report.html"
    md = (media / "report.md").read_text()
    assert md.startswith(MD.rstrip("\n")) and "## Run" in md
    assert "`moonshot compare a b --out x`" in md and "1 min 15 s" in md
    text = page_path.read_text()
    page = _parse(text)
    # the header says what was run
    for needle in ("moonshot compare a b --out x", "0, 1", "1 min 15 s", "numpy", "pybullet"):
        assert needle in text
    # the table, cell for cell, sortable
    assert page.tables == [[["agent", "success", "episodes"], ["ppo", "79% [71–86]", "1,234"],
                            ["planner", "100%", "—"]]]
    assert ("table", {"class": "sortable"}) in page.tags
    # the GIF as an image, the MP4 as a video, both by relative paths that exist
    imgs = [a for t, a in page.tags if t == "img"]
    videos = [a for t, a in page.tags if t == "video"]
    assert [a["src"] for a in imgs] == ["media/drive.gif"]
    assert [a["src"] for a in videos] == ["media/drive.mp4"]
    assert "controls" in videos[0] and "muted" in videos[0]
    assert all((media / a["src"]).is_file() for a in imgs + videos)
    assert "<figcaption>the drive</figcaption>" in text
    # raw HTML in the Markdown is text, never markup
    assert ("script", {}) in page.tags  # the page's own inline sorter, and only it
    assert sum(t == "script" for t, _ in page.tags) == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_the_page_loads_nothing_from_outside_its_folder(media, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "plot.gif"
    write_video([np.zeros((8, 8, 3), np.uint8)] * 2, outside, 5)
    md = (f"![a plot elsewhere]({outside})\n\n![remote](https://example.org/x.png)\n\n"
          "![absent](nothing/here.png)\n")
    text = write_report(media, md, "t", report_meta("c")).read_text()
    page = _parse(text)
    srcs = [a["src"] for _, a in page.tags if "src" in a]
    assert srcs == ["media/plot.gif"]  # copied into the folder, referenced relatively
    assert (media / "media" / "plot.gif").is_file()
    assert not [t for t, a in page.tags if t == "link" or (t == "script" and a.get("src"))]
    assert not re.search(r"""(src|href)=["'](https?:)?//(?!example\.org)""", text)
    assert 'href="https://example.org/x.png"' in text  # a remote image becomes a plain link
    assert "missing file: nothing/here.png" in text  # no broken image on the page


def test_tables_with_images_are_not_sortable_and_runs_of_figures_form_a_gallery():
    body = markdown_to_html("| a | b |\n|---|---|\n| ![x](x.gif) | 1 |\n\n"
                            "![one](1.png)\n\n![two](2.png)\n\nafter\n")
    assert "<table>" in body and "sortable" not in body
    gallery = re.search(r'<div class="gallery">(.*?)</div>', body, re.S).group(1)
    assert gallery.count("<figure>") == 2
    assert body.index("</div>") < body.index("<p>after</p>")


def test_tables_are_plain_narrow_and_explained():
    """No scientific notation, no column empty in every row, at most 8 columns a table
    (wider ones split, repeating the name columns), a glossary of the headers used."""
    from moonshot.evaluation import report

    rows = [{"run": "a", "agent": "ppo", "env": "MoonLaunch", "target": None,
             "episodes": 300_123, "episodes_to_success_50": 271_026,
             "model_rollouts": 23456.7, "wall_s_to_success_90": 0.000123,
             "final_success_rate": 0.38, "deaths": 120_000, "trials_per_scenario": 1.0,
             "episodes_to_first_success": 1},
            {"run": "b", "agent": "planner", "env": "MoonLaunch", "target": None,
             "episodes": 30, "episodes_to_success_50": 10, "model_rollouts": 0.0,
             "wall_s_to_success_90": 12345.6, "final_success_rate": 1.0, "deaths": 0,
             "trials_per_scenario": 1.2, "episodes_to_first_success": 1}]
    md = report.markdown_table(rows, report.EFFICIENCY_COLUMNS)
    assert "e+" not in md and "e-" not in md
    assert "300,123" in md and "271,026" in md and "23,457" in md and "12,346" in md
    assert "target" not in md  # empty in every row
    tables = [t for t in md.split("\n\n") if t.strip()]
    assert len(tables) > 1
    for t in tables:
        head = t.splitlines()[0]
        assert head.count("|") - 1 <= report.MAX_COLUMNS and head.startswith("| run | agent |")
    notes = report.glossary(md)
    assert "*to 50%*" in notes and "floor" in notes and "*final success*" in notes
    assert report.plain_number(1234567.0) == "1,234,567" and report.plain_number(0.5) == "0.5"


def test_every_measured_column_of_the_report_tables_is_explained():
    """The glossary under a report's tables has a line for each header of the transfer, gap
    and efficiency tables that holds a measurement (a header renamed without its glossary
    line would print no explanation), and defines a death as the vehicle destroyed."""
    from moonshot.evaluation import report

    naming = {"agent", "env", "split", "scenarios", "run", "target", "episodes", "unit"}
    headers = {h for cols in (report.TRANSFER_COLUMNS, report.GAP_COLUMNS,
                              report.EFFICIENCY_COLUMNS) for _, h, _ in cols} - naming
    assert headers - set(report.GLOSSARY) == set()
    md = report.markdown_table([{"agent": "ppo", "env": "MoonLaunch", "death_rate": 0.1}],
                               report.TRANSFER_COLUMNS)
    assert "*destroyed/episode*: share of episodes that ended with the vehicle destroyed" \
        in report.glossary(md)


def test_long_training_curves_are_drawn_as_stretch_means():
    import numpy as np

    from moonshot.evaluation.report import _binned

    x = np.arange(1, 300_001, dtype=float)
    y = np.where(x > 150_000, 0.8, 0.2)
    bx, by = _binned(x, y)
    assert len(bx) == 400 and bx[-1] == 300_000
    assert by[0] == 0.2 and by[-1] == 0.8  # the level of each stretch, not its noise
    short = np.arange(50.0)
    assert _binned(short, short)[0] is short
