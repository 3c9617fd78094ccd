"""``report.md`` and a self-contained ``report.html`` beside it, from the same Markdown.

Every report folder (demo, compare, evaluate, and the shift ladder and sweeps to come) calls
:func:`write_report` once. The page works when the folder is copied or opened from disk: no
server, no network, no CDN. Images, GIFs and videos are referenced by paths relative to the
folder (a file outside it is copied into ``media/`` first), ``.mp4``/``.webm`` become
``<video controls muted loop>``, summary tables sort by a click on their header (a few lines of
inline JavaScript), and a header says what was run: command, versions, seeds, wall time.

Markdown is parsed by markdown-it-py (CommonMark plus pipe tables; it is already installed as
a dependency of rich), with raw HTML off: text in a report can never inject markup.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import platform
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..runlog import atomic_write_text

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".webm")
VERSION_PACKAGES = ("moonshot", "numpy", "numba", "gymnasium", "stable-baselines3", "torch",
                    "pybullet", "matplotlib")
META_ORDER = ("command", "seeds", "wall_time_s", "written", "versions")


def versions() -> dict:
    """Versions of Python and of the packages behind a result, without importing any of them
    (a planner's report must not load torch)."""
    try:  # the project's light helper, once it exists
        from ..versions import versions as _versions

        return dict(_versions())
    except ImportError:
        pass
    from importlib import metadata

    found = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def report_meta(command: str, seeds: int | list | str | None = None,
                wall_time_s: float | None = None, **extra: Any) -> dict:
    """The header of a report: ``command`` as a user would type it, ``seeds`` (an int, a list
    or a short text), the wall time in seconds, and any ``extra`` key-value pairs (shown
    as they are). Versions and the time of writing are filled in by :func:`write_report`."""
    meta = {"command": command, "seeds": seeds, "wall_time_s": wall_time_s}
    meta.update(extra)
    return {k: v for k, v in meta.items() if v is not None}


def write_report(folder: Path | str, markdown_text: str, title: str,
                 meta: dict | None = None) -> Path:
    """Write ``folder/report.md`` (the Markdown and a short "Run" footer) and
    ``folder/report.html`` (a header from ``meta``, then the Markdown as HTML); returns the
    path of ``report.html``.

    ``meta``: see :func:`report_meta`; ``versions`` and ``written`` are added when missing.
    Image links in the Markdown are paths relative to ``folder`` (or absolute ones, which are
    made relative, copying files from outside the folder into ``folder/media``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    meta.setdefault("versions", versions())
    meta.setdefault("written", _dt.datetime.now().astimezone().isoformat(timespec="seconds"))
    markdown_text = _localize_links(markdown_text, folder)
    atomic_write_text(folder / "report.md",
                      markdown_text.rstrip("\n") + "\n\n" + _meta_markdown(meta))
    page = render_html(markdown_text, title, meta, folder)
    path = folder / "report.html"
    atomic_write_text(path, page)
    return path


# ---------------------------------------------------------------------------- Markdown -> HTML
def _parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    md.add_render_rule("image", _render_image)
    return md


def _is_external(src: str) -> bool:
    s = src.strip().lower()
    return s.startswith(("http://", "https://", "//", "ftp://"))


def _render_image(self, tokens, idx, options, env):
    tok = tokens[idx]
    src = tok.attrGet("src") or ""
    alt = self.renderInlineAsText(tok.children or [], options, env)
    a_src, a_alt = html.escape(src, quote=True), html.escape(alt, quote=True)
    if _is_external(src):  # never load anything from the network: a link instead
        return f'<a href="{a_src}">{html.escape(alt or src)}</a>'
    folder = env.get("folder")
    if folder is not None and not src.startswith("data:"):
        if not (Path(folder) / unquote(src)).is_file():
            return f'<span class="missing">[missing file: {html.escape(unquote(src))}]</span>'
    if Path(unquote(src)).suffix.lower() in VIDEO_SUFFIXES:
        return (f'<video src="{a_src}" title="{a_alt}" controls muted loop playsinline '
                f'preload="auto"></video>')
    return f'<img src="{a_src}" alt="{a_alt}" loading="eager">'


def _figure_image(inline_tok):
    """The image token of a paragraph that holds one image and nothing else, or None."""
    kids = [c for c in (inline_tok.children or [])
            if not (c.type in ("softbreak", "hardbreak") or
                    (c.type == "text" and not c.content.strip()))]
    return kids[0] if len(kids) == 1 and kids[0].type == "image" else None


def markdown_to_html(markdown_text: str, folder: Path | None = None) -> str:
    """The body HTML of a report: CommonMark with pipe tables (sortable unless they hold
    images), paragraphs of one image become figures captioned by their alt text, and runs of
    figures sit side by side in a gallery."""
    md = _parser()
    env = {"folder": folder}
    tokens = md.parse(markdown_text, env)
    out: list[str] = []
    gallery: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if (tok.type == "paragraph_open" and i + 2 < n and tokens[i + 1].type == "inline"
                and (img := _figure_image(tokens[i + 1])) is not None):
            body = md.renderer.renderInline([img], md.options, env)
            cap = html.escape(md.renderer.renderInlineAsText(img.children or [], md.options,
                                                              env))
            gallery.append(f"<figure>{body}<figcaption>{cap}</figcaption></figure>")
            i += 3
            continue
        if gallery:
            out.append('<div class="gallery">\n' + "\n".join(gallery) + "\n</div>\n")
            gallery = []
        j = i + 1
        if tok.type == "table_open":
            depth = 1
            while depth:
                depth += {"table_open": 1, "table_close": -1}.get(tokens[j].type, 0)
                j += 1
            has_image = any(c.type == "image" for t in tokens[i:j] if t.type == "inline"
                            for c in t.children or [])
            if not has_image:
                tok.attrSet("class", "sortable")
        elif tok.nesting == 1:  # a block: render it whole, up to its closing token
            depth = 1
            while depth:
                depth += tokens[j].nesting if tokens[j].level == tok.level else 0
                j += 1
        out.append(md.renderer.render(tokens[i:j], md.options, env))
        i = j
    if gallery:
        out.append('<div class="gallery">\n' + "\n".join(gallery) + "\n</div>\n")
    return "".join(out)


def _strip_title(markdown_text: str) -> str:
    """Drop a leading ``# Title`` line: the page header shows the title."""
    lines = markdown_text.lstrip("\n").split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines)


def render_html(markdown_text: str, title: str, meta: dict, folder: Path | None = None) -> str:
    """The whole page: ``<head>`` with inline CSS and JS, a header from ``meta``, the body."""
    body = markdown_to_html(_strip_title(markdown_text), folder)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{html.escape(title)}</h1>\n{_meta_html(meta)}</header>\n"
        f"<main>\n{body}</main>\n<script>{_JS}</script>\n</body>\n</html>\n")


# ---------------------------------------------------------------------------- header
def _fmt_seconds(s: float) -> str:
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s"


def _meta_items(meta: dict) -> list[tuple[str, str, bool]]:
    """``(label, text, is_code)`` per meta entry, in a fixed order, extras last."""
    keys = [k for k in META_ORDER if k in meta] + [k for k in meta if k not in META_ORDER]
    items = []
    for k in keys:
        v = meta[k]
        if k == "wall_time_s":
            items.append(("wall time", _fmt_seconds(v), False))
        elif k == "versions":
            items.append(("versions", ", ".join(f"{p} {x}" for p, x in v.items()), False))
        elif k == "seeds" and isinstance(v, list | tuple):
            items.append(("seeds", ", ".join(map(str, v)), False))
        else:
            items.append((k.replace("_", " "), str(v), k == "command"))
    return items


def _meta_html(meta: dict) -> str:
    rows = []
    for label, text, code in _meta_items(meta):
        val = f"<code>{html.escape(text)}</code>" if code else html.escape(text)
        rows.append(f"<dt>{html.escape(label)}</dt><dd>{val}</dd>")
    return '<dl class="meta">\n' + "\n".join(rows) + "\n</dl>\n"


def _meta_markdown(meta: dict) -> str:
    lines = ["## Run", ""]
    for label, text, code in _meta_items(meta):
        lines.append(f"- {label}: " + (f"`{text}`" if code else text))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- links
def _localize_links(markdown_text: str, folder: Path) -> str:
    """Image targets made relative to ``folder``; files outside it copied into
    ``folder/media``, so that the folder alone holds the whole report."""
    import re

    root = folder.resolve()

    def fix(m: re.Match) -> str:
        alt, src = m.group(1), m.group(2)
        if _is_external(src) or src.startswith("data:"):
            return m.group(0)
        p = Path(unquote(src))
        p = p if p.is_absolute() else root / p
        try:
            rel = p.resolve().relative_to(root)
        except ValueError:
            if not p.is_file():
                log.warning("report %s: image %s does not exist", folder, src)
                return m.group(0)
            dest = root / "media" / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists() or dest.resolve() != p.resolve():
                shutil.copy2(p, dest)
            rel = dest.relative_to(root)
        return f"![{alt}]({quote(rel.as_posix())})"

    return re.sub(r"!\[([^\]]*)\]\(\s*([^)\s]+)\s*\)", fix, markdown_text)


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1d2330; background: #f6f7f9; line-height: 1.45; }
header { background: #1d2330; color: #eef1f6; padding: 1.2em 2em 0.8em; }
header h1 { margin: 0 0 0.4em; font-size: 1.6em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em;
  margin: 0; font-size: 0.9em; }
dl.meta dt { color: #9fb0c8; } dl.meta dd { margin: 0; }
dl.meta code { background: #2d3546; color: #eef1f6; }
main { padding: 0.5em 2em 3em; max-width: 1400px; }
h2 { border-bottom: 2px solid #d5dae3; padding-bottom: 0.2em; margin-top: 1.6em; }
code { background: #e8ebf0; padding: 0 0.25em; border-radius: 3px; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.8em 0; background: #fff; font-size: 0.9em;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); display: block; max-width: 100%; overflow-x: auto;
  width: max-content; }
th, td { border: 1px solid #d5dae3; padding: 0.3em 0.6em; text-align: left;
  vertical-align: top; }
th { background: #eef1f6; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: "\\00a0\\2195"; color: #9aa4b5; font-size: 0.8em; }
table.sortable th[data-dir="asc"]::after { content: "\\00a0\\25B2"; color: #1d2330; }
table.sortable th[data-dir="desc"]::after { content: "\\00a0\\25BC"; color: #1d2330; }
tbody tr:nth-child(even) { background: #f8f9fb; }
img, video { max-width: 100%; height: auto; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0.5em 0; background: #fff; padding: 0.5em;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); max-width: 100%; }
figcaption { font-size: 0.85em; color: #4a5468; margin-top: 0.3em; }
.missing { color: #b00020; }
"""

# Click a header to sort its table; numbers (with %, commas, units) sort numerically,
# dashes and blanks last.
_JS = """
(function () {
  function key(text) {
    var t = text.trim();
    if (t === "" || t === "\\u2014" || t === "-") return null;
    var m = t.replace(/,/g, "").match(/^[+\\u2212-]?\\d*\\.?\\d+(e[+-]?\\d+)?/i);
    return m ? parseFloat(m[0].replace("\\u2212", "-")) : t.toLowerCase();
  }
  function cmp(a, b) {
    if (a === null) return b === null ? 0 : 1;
    if (b === null) return -1;
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === "number" ? -1 : 1;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var dir = th.dataset.dir === "asc" ? "desc" : "asc";
        heads.forEach(function (h) { delete h.dataset.dir; });
        th.dataset.dir = dir;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = key(r1.cells[col].textContent), b = key(r2.cells[col].textContent);
          if (a === null || b === null) return cmp(a, b);
          return dir === "asc" ? cmp(a, b) : cmp(b, a);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""
