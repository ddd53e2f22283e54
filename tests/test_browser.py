"""Every page of the built book opened in headless Chromium: pages, images, links, errors.

The checker (tests/browser.py) is first run on a tiny hand-made site with one page
per failure kind, so it cannot pass by checking nothing; then on every page of the
smoke book (slow; skipped without the data mirror). Without Chromium, chromedriver or
Selenium the tests skip, unless COURSEKIT_REQUIRE_BROWSER=1 (set by .ci/run): then
they fail, so CI never skips them silently.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import browser  # tests/browser.py, put on sys.path by conftest.py
from coursekit import runner
from coursekit.runner.chapters import toc_files

REPO = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR") or str(REPO.parent / "shared" / "data")

# A 1x1 GIF: the smallest image a browser decodes.
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
       b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
# What myst-nb 1.4 renders for an error output and a stderr stream, and the runner's
# {error} admonition (checked on a jupyter-book 1.0.4 build of a tiny notebook).
TRACEBACK = ('<div class="cell_output docutils container"><div class="output traceback '
             'highlight-ipythontb notranslate"><div class="highlight"><pre><span></span>'
             '<span class="ne">ZeroDivisionError</span>   Traceback (most recent call last)\n'
             '<span class="ne">ZeroDivisionError</span>: division by zero\n</pre></div></div>'
             '</div>')
STDERR = ('<div class="cell_output docutils container"><div class="output stderr '
          'highlight-myst-ansi notranslate"><div class="highlight"><pre><span></span>'
          'UserWarning: w\n</pre></div></div></div>')
ADMONITION = ('<div class="admonition error"><p class="admonition-title">Error</p>'
              '<p><strong>This chapter failed</strong> under smoke</p></div>')

SITE = {
    "good.html": ('<h1 id="top">Good</h1><img src="_images/dot.gif" alt="dot">'
                  '<svg width="10" height="10"><circle r="4" cx="5" cy="5"/></svg>'
                  '<a href="other.html#sec">other</a> <a href="#top">top</a> '
                  '<a href="chapters/">folder</a> <a href="#">nowhere</a> '
                  '<a href="https://example.org/missing">external</a> '
                  '<a href="mailto:someone@example.org">mail</a> '
                  '<img src="https://example.org/logo.png" alt="external">'),
    "other.html": '<h2 id="sec">Section</h2><a name="old"></a><a href="good.html">back</a>',
    "chapters/index.html": '<p>chapters</p><a href="../other.html#old">old anchor</a>',
    "broken_link.html": '<a href="missing.html">gone</a>',
    "missing_anchor.html": '<a href="other.html#nope">no such section</a>',
    "missing_image.html": '<img src="_images/nope.png" alt="nope">',
    "traceback.html": TRACEBACK,
    "stderr.html": STDERR,
    "failed_chapter.html": ADMONITION,
    "missing_css.html": '<link rel="stylesheet" href="_static/missing.css"><p>styled</p>',
    "js_error.html": '<p>scripted</p><script src="_static/broken.js"></script>',
    "raw_tex.html": '<p>Energy <span class="math notranslate nohighlight">\\(E = mc^2\\)</span></p>',
    "wide_parameters.html": ('<div class="cell tag_parameters"><pre style="width: 20em; '
                             'overflow-x: auto">lr = 0.3  # [above 0] peak learning rate of '
                             'the one-cycle schedule</pre></div>'),
}
EXPECTED = {  # page -> the one problem the checker must report on it
    "broken_link.html": "broken_link.html: link 'missing.html' is broken (missing.html "
                        "returned HTTP 404)",
    "missing_anchor.html": "missing_anchor.html: link 'other.html#nope' points at #nope",
    "missing_image.html": "missing_image.html: image _images/nope.png did not load",
    "traceback.html": "traceback.html: traceback (div.output.traceback): "
                      "ZeroDivisionError: division by zero",
    "stderr.html": "stderr.html: stderr output (div.output.stderr): UserWarning: w",
    "failed_chapter.html": "failed_chapter.html: error admonition (div.admonition.error): "
                           "This chapter failed under smoke",
    "missing_css.html": "missing_css.html: console error: _static/missing.css - "
                        "Failed to load resource",
    "js_error.html": "js_error.html: console error: _static/broken.js",
    "raw_tex.html": "raw_tex.html: 1 equation(s) shown as raw TeX, e.g. '\\\\(E = mc^2\\\\)'",
    "wide_parameters.html": "wide_parameters.html: the parameters cell is",
    "no_main.html": "no_main.html: no main content",
    "nowhere.html": "nowhere.html: page did not load (HTTP 404)",
    "bad_redirect.html": "bad_redirect.html: redirects to gone.html, which returned HTTP 404",
}


def _page(body: str, title: str = "A page") -> str:
    """A minimal HTML page with `body` inside <main>."""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            f"</head><body><main>{body}</main></body></html>")


def _browser_or_skip() -> None:
    """Skip when Chromium/chromedriver/Selenium is missing; fail instead if CI demands it."""
    try:
        browser.find_browser()
    except browser.BrowserUnavailable as exc:
        if browser.require_browser():
            pytest.fail(f"{exc} (COURSEKIT_REQUIRE_BROWSER=1: the browser tests must run)")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def driver():
    """One headless Chromium for the module, quit at its end."""
    _browser_or_skip()
    chrome = browser.make_driver()
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The hand-made site, served on 127.0.0.1; yields its folder and base URL."""
    folder = tmp_path_factory.mktemp("site")
    pages = {name: _page(body) for name, body in SITE.items()}
    pages["no_main.html"] = "<!DOCTYPE html><html><head><title>Bare</title></head>" \
                            "<body><p>no main element</p></body></html>"
    pages["index.html"] = '<meta http-equiv="Refresh" content="0; url=good.html" />'
    pages["bad_redirect.html"] = '<meta http-equiv="Refresh" content="0; url=gone.html" />'
    pages["_static/webpack-macros.html"] = "{% macro x() %}{% endmacro %}"
    for name, text in pages.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "_images").mkdir()
    (folder / "_images" / "dot.gif").write_bytes(GIF)
    (folder / "_static" / "broken.js").write_text("undefinedFunction();\n")
    with browser.serve(folder) as base:
        yield folder, base


def test_list_pages_skips_theme_fragments(site):
    folder, _ = site
    pages = browser.list_pages(folder)
    assert "good.html" in pages and "chapters/index.html" in pages
    assert "_static/webpack-macros.html" not in pages


def test_a_good_page_passes_and_warns_about_external_images(driver, site):
    _, base = site
    with pytest.warns(browser.ExternalResourceWarning, match="example.org/logo.png"):
        assert browser.check_page(driver, base + "good.html") == []


@pytest.mark.parametrize("page", ["other.html", "chapters/index.html", "index.html"])
def test_name_anchors_folders_and_redirects_pass(driver, site, page):
    _, base = site
    assert browser.check_page(driver, base + page) == []


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_the_checker_reports_each_failure_kind(driver, site, page):
    _, base = site
    problems = browser.check_page(driver, base + page)
    assert len(problems) == 1, problems
    assert problems[0].startswith(EXPECTED[page]), problems


def test_a_missing_browser_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(browser.BrowserUnavailable, match="chromium and chromedriver"):
        browser.find_browser()
    monkeypatch.delenv("COURSEKIT_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _browser_or_skip()
    monkeypatch.setenv("COURSEKIT_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="COURSEKIT_REQUIRE_BROWSER=1"):
        _browser_or_skip()


def _write_failing_book(root: Path) -> None:
    """A one-notebook jupyter-book whose outputs hold each kind of error."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                               "display_name": "Python 3"}})
    nb.cells = [
        new_markdown_cell("````{error}\n**This chapter failed** under smoke\n````"),
        new_markdown_cell("# Tiny chapter"),
        new_code_cell("print('fine')", outputs=[new_output("stream", name="stdout",
                                                            text="fine\n")]),
        new_code_cell("warn()", outputs=[new_output("stream", name="stderr",
                                                     text="UserWarning: careful\n")]),
        new_code_cell("1/0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m  Traceback (most recent call last)",
                       "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"])]),
    ]
    nbformat.write(nb, str(root / "tiny.ipynb"))
    (root / "_toc.yml").write_text("format: jb-book\nroot: tiny\n")
    (root / "_config.yml").write_text(
        "title: tiny\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  config:\n    nb_merge_streams: true\n")


@pytest.mark.slow
def test_error_outputs_of_a_real_jupyter_book_build_are_caught(driver, tmp_path):
    _write_failing_book(tmp_path)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jupyter_book), "build", "--quiet", str(tmp_path)], check=True,
                   capture_output=True)
    with browser.serve(tmp_path / "_build" / "html") as base:
        problems = browser.check_page(driver, base + "tiny.html")
    assert problems == [
        "tiny.html: traceback (div.output.traceback): ZeroDivisionError: division by zero",
        "tiny.html: stderr output (div.output.stderr): UserWarning: careful",
        "tiny.html: error admonition (div.admonition.error): This chapter failed under smoke",
    ]


@pytest.mark.slow
@pytest.mark.skipif(not Path(MIRROR, "cifar10").is_dir(), reason=f"no data mirror at {MIRROR}")
def test_every_page_of_the_smoke_book_works_in_a_browser(driver, smoke_book):
    root, _ = smoke_book
    html = root / "_build" / "html"
    pages = browser.list_pages(html)
    missing = {f"{name}.html" for name in toc_files(root)} - set(pages)
    assert not missing, f"pages of _toc.yml not built: {sorted(missing)}"
    assert {f"chapters/{c.stem}.html" for c in runner.list_chapters(root)} <= set(pages)
    problems = []
    with browser.serve(html) as base:
        for page in pages:
            problems += browser.check_page(driver, base + page)
    assert not problems, (f"{len(problems)} problem(s) in {len(pages)} pages of the built "
                          "book:\n" + "\n".join(problems))
