"""Open built HTML pages in headless Chromium and list what is broken on each.

Used by tests/test_browser.py. A page is served from a local folder over HTTP on
127.0.0.1 (:func:`serve`), opened with Selenium in headless Chromium
(:func:`make_driver`, using the system chromedriver so that Selenium never tries to
download one) and checked by :func:`check_page`, which returns one message per
problem: a page that does not load, an image that does not load, a broken internal
link or anchor, an error output of a notebook cell (traceback, stderr, the runner's
error admonition), an equation left as raw TeX, a parameters cell whose lines run
past its box, and a SEVERE console message about a local resource.

External hosts are out of scope: Chromium is told that every host but 127.0.0.1 does
not exist, so the check never reaches the internet; external images become warnings
(:class:`ExternalResourceWarning`), external links are not followed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

__all__ = [
    "BrowserUnavailable", "ExternalResourceWarning", "ERROR_OUTPUTS", "KNOWN_CONSOLE_NOISE",
    "serve", "find_browser", "make_driver", "require_browser", "list_pages", "check_page",
]

# What myst-nb 1.4 (jupyter-book 1.0.4) renders for an error output, a stderr stream,
# and the {error} admonition the runner puts at the top of a chapter that failed.
ERROR_OUTPUTS = {
    "div.output.traceback": "traceback",
    "div.output.error": "error output",
    "div.output.stderr": "stderr output",
    "div.admonition.error": "error admonition",
}
_ERROR_TITLES = ("error response", "404", "not found")  # http.server's and the like
_SKIPPED_DIRS = {"_static", "_sources"}  # theme template fragments, not pages
# SEVERE console messages about local resources that are not the book's fault:
# jupyter-book 1.0.4 emits sphinx-thebe's inline config script twice on every page
# (the second `const` declaration throws, the first one already set it); the pydata
# theme console.error()s when a fresh profile has no stored light/dark mode; Chromium
# asks for /favicon.ico when a page declares no icon.
KNOWN_CONSOLE_NOISE = (
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode",
    "favicon.ico - Failed to load resource",
    # MathJax 2's web-font probe asks for a font at about:blank, which Chromium refuses
    # when a page is served over http; the STIX-Web fonts it then loads are local.
    "Access to font at 'about:blank'",
)
_IMAGE_TIMEOUT_S = 15
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BrowserUnavailable(RuntimeError):
    """Chromium, chromedriver or Selenium is missing on this machine."""


class ExternalResourceWarning(UserWarning):
    """An image served from outside 127.0.0.1: not checked (no internet in CI)."""


# ------------------------------------------------------------------ server


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static file handler that does not log every request to stderr."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        """Drop the access log: the checker reports what matters."""


class _Server(ThreadingHTTPServer):
    """HTTP server that shrugs off clients hanging up mid-response."""

    def handle_error(self, request, client_address):
        """Ignore a closed connection (the browser cancels requests when it navigates)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 on an ephemeral port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        fetch.cache_clear()  # a later server may get the same port for another folder
        _parse.cache_clear()


# ------------------------------------------------------------------ browser


def find_browser() -> tuple[str, str]:
    """Paths of Chromium and chromedriver; BrowserUnavailable says which is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("selenium is not installed (pip install -r "
                                 "requirements.txt)") from None
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium),
                                       ("chromedriver", driver)) if not path]
    if missing:
        raise BrowserUnavailable(
            f"{' and '.join(missing)} not found on PATH; install the Debian packages "
            "with: apt-get install chromium chromium-driver")
    return chromium, driver


def require_browser() -> bool:
    """True when CI demands the browser test (COURSEKIT_REQUIRE_BROWSER=1)."""
    return os.environ.get("COURSEKIT_REQUIRE_BROWSER", "").strip() == "1"


def make_driver():
    """Headless Chromium driven by the system chromedriver, offline but for 127.0.0.1."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,1024", "--no-proxy-server",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path makes Selenium skip Selenium Manager (no download).
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver),
                              options=options)
    driver.set_page_load_timeout(60)
    return driver


# ------------------------------------------------------------------ pages


def list_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative to its folder, in sorted order."""
    return sorted(
        path.relative_to(html_dir).as_posix() for path in html_dir.rglob("*.html")
        if not _SKIPPED_DIRS & set(path.relative_to(html_dir).parts[:-1]))


@functools.lru_cache(maxsize=1024)
def fetch(url: str) -> tuple[int, str, str]:
    """HTTP status, content type and text of a URL (cached: pages share their links)."""
    try:
        with _NO_PROXY.open(url, timeout=30) as response:
            kind, data = response.headers.get_content_type(), response.read()
            body = data.decode("utf-8", "replace") if kind == "text/html" else ""
            return response.status, kind, body
    except urllib.error.HTTPError as exc:
        return exc.code, "", ""
    except OSError as exc:
        return 0, "", str(exc)


class _Anchors(HTMLParser):
    """Collects the ids and names an HTML page defines, and a meta refresh target."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: set[str] = set()
        self.refresh: str | None = None

    def handle_starttag(self, tag, attrs):
        """Record id= and name= of every element, and <meta http-equiv=refresh>."""
        attrs = dict(attrs)
        self.anchors.update(v for k, v in attrs.items() if k in ("id", "name") and v)
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.refresh = (attrs.get("content") or "").partition("url=")[2].strip() or None


@functools.lru_cache(maxsize=1024)
def _parse(url: str) -> _Anchors:
    """The anchors of the page at `url` (parsed once per page)."""
    parser = _Anchors()
    parser.feed(fetch(url)[2])
    return parser


def _name(url: str, base: str) -> str:
    """A URL relative to the served folder, e.g. chapters/A1_lenet_cifar10.html."""
    return url[len(base):] if url.startswith(base) else url


def _local(url: str, base: str) -> bool:
    """True when `url` is served from the same origin as `base`."""
    a, b = urlsplit(url), urlsplit(base)
    return a.scheme in ("http", "https") and (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _base(url: str) -> str:
    """The served folder's URL, the origin of `url` with a trailing slash."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


# ------------------------------------------------------------------ checks


def check_page(driver, url: str) -> list[str]:
    """Open `url` in the browser and list its problems, each naming the page."""
    base, page = _base(url), _name(url, _base(url))
    status = fetch(url)[0]
    if status != 200:
        return [f"{page}: page did not load (HTTP {status or 'no response'})"]
    refresh = _parse(url).refresh
    if refresh and not _parse(url).anchors:
        return _check_redirect(page, url, refresh)
    driver.get_log("browser")  # drop what earlier pages left behind
    driver.get(url)
    problems = _check_main(driver, page)
    broken, image_problems = _check_images(driver, page, base)
    problems += image_problems
    problems += _check_links(driver, page, base)
    problems += _check_error_outputs(driver, page)
    problems += _check_math(driver, page)
    problems += _check_parameters_fit(driver, page)
    problems += _check_console(driver, page, base, ignore=broken)
    return problems


# Sphinx writes math as \( \) or \[ \] inside .math elements; MathJax replaces what the
# reader sees (innerText; its <script type="math/tex"> copies are not visible).
_RAW_TEX_JS = r"""
return Array.from(document.querySelectorAll('.math'))
    .map(m => m.innerText.trim())
    .filter(t => /^(\\\(|\\\[|\$)/.test(t));
"""


def _check_math(driver, page: str) -> list[str]:
    """Every equation was typeset: no .math element still shows its TeX source (as it
    does when MathJax could not load, e.g. from a CDN with no network)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, _IMAGE_TIMEOUT_S).until(
            lambda d: not d.execute_script(_RAW_TEX_JS))
    raw = driver.execute_script(_RAW_TEX_JS)
    return [f"{page}: {len(raw)} equation(s) shown as raw TeX, e.g. {raw[0][:60]!r}"
            ] if raw else []


# The chapters' parameters cell (myst-nb gives the cell its tags as classes): its lines
# carry each parameter's rule and meaning, and the book's CSS wraps them to the box.
_PARAMETERS_JS = """
return Array.from(document.querySelectorAll('div.tag_parameters pre'))
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => [pre.scrollWidth, pre.clientWidth]);
"""


def _check_parameters_fit(driver, page: str) -> list[str]:
    """The parameters cell shows every line whole: nothing is hidden past its box's
    right edge, where a reader would have to scroll sideways to read a parameter's rule."""
    return [f"{page}: the parameters cell is {wide}px wide in a {box}px box (its lines "
            "run past the right edge)" for wide, box in driver.execute_script(_PARAMETERS_JS)]


def _check_redirect(page: str, url: str, target: str) -> list[str]:
    """A meta-refresh page (jupyter-book's index.html) must point at a served page."""
    status = fetch(urljoin(url, target))[0]
    return [] if status == 200 else [
        f"{page}: redirects to {target}, which returned HTTP {status or 'no response'}"]


def _check_main(driver, page: str) -> list[str]:
    """The page has a non-empty main/article element and a title that is no error."""
    problems = []
    title = driver.title.strip()
    if not title or any(word in title.lower() for word in _ERROR_TITLES):
        problems.append(f"{page}: title is {title!r}, which looks like an error page")
    found = driver.execute_script(
        "const m = document.querySelector('article, main, [role=main]');"
        "return m !== null && (m.childElementCount > 0 || m.textContent.trim() !== '');")
    if not found:
        problems.append(f"{page}: no main content (no non-empty <main> or <article>)")
    return problems


_IMAGES_JS = """
for (const img of document.images) { if (img.loading === 'lazy') img.loading = 'eager'; }
return Array.from(document.images, img => [img.getAttribute('src') || '',
    img.currentSrc || img.src, img.complete, img.naturalWidth]);
"""


def _check_images(driver, page: str, base: str) -> tuple[set[str], list[str]]:
    """Every local <img> loaded (complete, naturalWidth > 0); external ones warn."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(_IMAGES_JS)  # make lazy images load now
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, _IMAGE_TIMEOUT_S).until(lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete);"))
    broken, problems = set(), []
    for src, resolved, complete, width in driver.execute_script(_IMAGES_JS):
        if not (_local(resolved, base) or resolved.startswith("data:")):
            warnings.warn(f"{page}: external image {resolved} not checked",
                          ExternalResourceWarning, stacklevel=3)
        elif not (complete and width > 0):
            broken.add(resolved)
            problems.append(f"{page}: image {_name(resolved, base) or repr(src)} did not load")
    return broken, problems


def _check_links(driver, page: str, base: str) -> list[str]:
    """Every same-origin a[href] is served with 200 and its #fragment exists there."""
    links = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]'),"
        " a => [a.getAttribute('href'), a.href]);")
    problems = []
    for href, resolved in dict.fromkeys(map(tuple, links)):
        if not _local(resolved, base):
            continue  # external (other host, mailto:, javascript:): not checked
        target, fragment = urldefrag(resolved)
        status, kind, _ = fetch(target)
        if status != 200:
            problems.append(f"{page}: link {href!r} is broken "
                            f"({_name(target, base)} returned HTTP {status or 'no response'})")
        elif fragment and kind == "text/html" and unquote(fragment) not in _parse(target).anchors:
            problems.append(f"{page}: link {href!r} points at #{unquote(fragment)}, "
                            f"which is no id or name on {_name(target, base) or '/'}")
    return problems


_TEXT_JS = """
const copy = arguments[0].cloneNode(true);
copy.querySelectorAll('button, .admonition-title').forEach(e => e.remove());
return copy.textContent;
"""


def _summary(text: str, kind: str) -> str:
    """One line of an error output: a traceback's last line, else its first lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "(empty)"
    line = lines[-1] if kind == "traceback" else " ".join(lines[:3])
    return line if len(line) <= 200 else line[:197] + "..."


def _check_error_outputs(driver, page: str) -> list[str]:
    """No traceback, stderr stream, error output or error admonition on the page."""
    from selenium.webdriver.common.by import By

    problems = []
    for selector, kind in ERROR_OUTPUTS.items():
        for element in driver.find_elements(By.CSS_SELECTOR, selector):
            text = driver.execute_script(_TEXT_JS, element) or ""  # without buttons
            problems.append(f"{page}: {kind} ({selector}): {_summary(text, kind)}")
    return problems


def _check_console(driver, page: str, base: str, ignore: set[str]) -> list[str]:
    """SEVERE console messages about a 127.0.0.1 resource (external ones are expected)."""
    problems = []
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        resource = message.split(" ", 1)[0]
        if (entry.get("level") != "SEVERE" or not _local(resource, base)
                or resource in ignore or any(n in message for n in KNOWN_CONSOLE_NOISE)):
            continue
        problems.append(f"{page}: console error: {message.replace(base, '')}")
    return problems
