"""The rendered book, opened in a real browser: Chromium, driven by Playwright.

Every page of the built book is served over HTTP from 127.0.0.1 and opened in Chromium.
The test fails, naming the page and the problem, on:

- a JavaScript console error, or an exception no script caught;
- a broken internal link or image: every `a[href]` and `img[src]` inside the site is
  requested once from the server and must answer 200; an image that loaded nothing
  (naturalWidth 0) fails too;
- a notebook cell whose output is an error (myst-nb renders it as `.output.traceback`),
  or the text "Traceback (most recent call last)" anywhere on the page;
- math left unrendered: once MathJax has typeset the page, a `.math` element without an
  `mjx-container`, a TeX error, or TeX delimiters (`\\(`, `\\[`, ...) left in the prose;
- a progress bar saved as a widget ("HBox(", the widget MIME type, "Loading widget");
- anything but an image fetched from outside the site: the book must render offline.
  Requests that leave the site are blocked, so the test runs the same with or without a
  network; external images (the Colab badge) are allowed, external links not followed.

It also saves full-page screenshots of the home page and of chapter 1 under
_build/screenshots/.

The book: the folder that LMBOOK_BOOK_HTML names (.ci/run sets it to the book it has just
built); without it, the test builds the book into a temporary folder (about 15 s).
The browser: Debian's Chromium, /usr/bin/chromium (`apt-get install chromium`), or the
Chromium or Chrome binary that LMBOOK_CHROMIUM names. Playwright only drives it; it never
downloads a browser.
"""

from __future__ import annotations

import functools
import os
import re
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import ProxyHandler, build_opener

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Route, sync_playwright
from test_budgets import PENDING

# Needs Chromium, so plain `pytest` (the README's command, which must pass on a machine
# with only Python) deselects it; `pytest -m browser` and .ci/run's browser stage run it.
pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = os.environ.get("LMBOOK_CHROMIUM", "/usr/bin/chromium")
NOT_PAGES = {"_static", "_sources", "_images"}  # folders of a Sphinx build that hold no pages
WIDGET_JUNK = ("HBox(", "application/vnd.jupyter.widget-view+json", "Loading widget")
TRACEBACK = "Traceback (most recent call last)"
RAW_TEX = ("\\(", "\\[", "$$", "\\begin{")  # what MathJax replaces when it renders the math
EXTERNAL_ALLOWED = {"image"}  # resource types a page may fetch from outside the site
MATHJAX_TIMEOUT_MS = 20_000

# What a page shows, read in the page once it has loaded and MathJax has finished.
PAGE_FACTS_JS = """
async (mathjaxTimeoutMs) => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const facts = {mathjax: null};
  if (document.querySelector(".math")) {
    const deadline = Date.now() + mathjaxTimeoutMs;
    const ready = () => window.MathJax && MathJax.startup && MathJax.startup.promise;
    while (!ready() && Date.now() < deadline) await sleep(50);
    if (!ready()) {
      facts.mathjax = "MathJax did not load";
    } else {
      facts.mathjax = await Promise.race([
        MathJax.startup.promise.then(() => "ok", (e) => `MathJax failed: ${e}`),
        sleep(Math.max(0, deadline - Date.now())).then(() => "MathJax did not finish"),
      ]);
    }
  }
  // Lazy images load only near the viewport: load them all, then see what they hold.
  const images = [...document.images];
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.race([Promise.allSettled(images.map((img) => img.decode())), sleep(5000)]);
  facts.images = images.map((img) => ({src: img.getAttribute("src"), width: img.naturalWidth}));
  facts.links = [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href"));
  facts.tracebacks = document.querySelectorAll(".output.traceback").length;
  // Code a reader would have to scroll sideways to read: its longest line.
  facts.wide_code = [...document.querySelectorAll("div.cell_input pre")]
    .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
    .map((pre) => pre.textContent.split("\\n")
      .reduce((a, l) => (l.length > a.length ? l : a), ""));
  const short = (el) => el.textContent.trim().replace(/\\s+/g, " ").slice(0, 60);
  facts.unrendered = [...document.querySelectorAll(".math")]
    .filter((el) => !el.querySelector("mjx-container")).map(short);
  facts.tex_errors = [...document.querySelectorAll("mjx-merror")]
    .map((el) => el.getAttribute("data-mjx-error") || short(el));
  // The text a reader sees: all of it, and the prose alone (no code, no rendered math).
  const text = (skip) => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => node.parentElement.closest(skip)
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    const parts = [];
    while (walker.nextNode()) parts.push(walker.currentNode.nodeValue);
    return parts.join("");
  };
  facts.text = text("script, style, template, noscript");
  facts.prose = text("script, style, template, noscript, pre, code, textarea, mjx-container");
  facts.html = document.documentElement.outerHTML;
  return facts;
}
"""


# -- Helpers that need no browser ------------------------------------------------------


def book_pages(html: Path) -> list[str]:
    """Every page of a built book, as paths relative to its html folder."""
    return sorted(
        path.relative_to(html).as_posix()
        for path in html.rglob("*.html")
        if path.relative_to(html).parts[0] not in NOT_PAGES
    )


def internal_target(ref: str, page_url: str, site_url: str) -> str | None:
    """The URL, without its #fragment, that `ref` on the page at `page_url` points to.

    None when it leads out of the site (another host, mailto:, javascript:, data:) or
    only to a place on the same page ("#section").
    """
    ref = ref.strip()
    if not ref or ref.startswith("#"):
        return None
    url = urldefrag(urljoin(page_url, ref)).url
    if urlsplit(url).scheme not in ("http", "https") or not url.startswith(site_url):
        return None
    return url


def raw_tex(text: str) -> list[str]:
    """Each TeX delimiter in `text`, with some text around it."""
    found = []
    for delimiter in RAW_TEX:
        start = 0
        while (i := text.find(delimiter, start)) >= 0:
            found.append(" ".join(text[max(0, i - 20) : i + 40].split()))
            start = i + len(delimiter)
    return found


def widget_junk(html: str) -> list[str]:
    """The traces of a progress bar saved as a Jupyter widget that `html` holds."""
    return [marker for marker in WIDGET_JUNK if marker in html]


def redirect_target(html: str) -> str | None:
    """Where a page that only redirects (`<meta http-equiv="Refresh">`) sends the reader."""
    tag = re.search(r"<meta[^>]+http-equiv=[\"']?refresh[^>]*>", html, re.IGNORECASE)
    if tag is None:
        return None
    url = re.search(r"url=\s*([^\"'>\s]+)", tag.group(0), re.IGNORECASE)
    return url.group(1) if url else None


def fetch(url: str) -> tuple[int | str, bytes]:
    """The status the server answers a GET of `url` with (or why it did not), and the body."""
    opener = build_opener(ProxyHandler({}))  # never through a proxy: the server is local
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.read()
    except HTTPError as error:
        return error.code, b""
    except URLError as error:
        return str(error.reason), b""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """No line on stderr per request."""


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that closes a page drops its connections: not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1, on a free port, from a thread; yield its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def check_chromium(path: str) -> None:
    """Fail, saying how to install it, when there is no Chromium at `path`."""
    if not Path(path).is_file():
        pytest.fail(
            f"No Chromium at {path}: the browser test needs one. Install it with "
            "`apt-get install chromium` (Debian), or set LMBOOK_CHROMIUM to the path of "
            "a Chromium or Chrome binary.",
            pytrace=False,
        )


# -- Opening the pages in the browser --------------------------------------------------


def audit_page(
    context: BrowserContext,
    site_url: str,
    name: str,
    mathjax_timeout_ms: int,
    screenshot: Path | None = None,
) -> tuple[list[str], list[str]]:
    """Open one page: the problems it shows, and the references (href, src) it holds.

    With `screenshot`, also save a full-page screenshot there, once the math is rendered.
    """
    problems: list[str] = []
    blocked: dict[str, str] = {}  # URL outside the site -> resource type
    console: list[ConsoleMessage] = []

    def leave_site(route: Route) -> None:
        blocked[route.request.url] = route.request.resource_type
        route.abort()

    page = context.new_page()
    page.route(lambda url: not url.startswith(site_url), leave_site)
    page.on("console", lambda message: console.append(message))
    page.on("pageerror", lambda error: problems.append(f"uncaught JavaScript error: {error}"))
    page_url = site_url + name
    # Read from the server: once the browser has followed a redirect, the body is gone.
    status, body = fetch(page_url)
    if status != 200:
        return [f"the page itself: {status}"], []
    target = redirect_target(body.decode("utf-8", "replace"))
    try:
        page.goto(page_url, wait_until="load")
        # A page that only redirects holds nothing more; the page it leads to is audited.
        facts = None if target else page.evaluate(PAGE_FACTS_JS, mathjax_timeout_ms)
        if screenshot is not None and facts is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            # Finished CSS transitions: otherwise the sidebar can be caught mid-slide.
            page.screenshot(path=str(screenshot), full_page=True, animations="disabled")
    finally:
        page.close()

    for message in console:
        # A blocked request also logs "Failed to load resource"; it is reported below.
        if message.type == "error" and message.location.get("url") not in blocked:
            where = message.location.get("url", "")
            problems.append(f"console error: {message.text}" + (f" ({where})" if where else ""))
    for url, kind in sorted(blocked.items()):
        if kind not in EXTERNAL_ALLOWED:
            problems.append(f"fetches a {kind} from outside the site (must work offline): {url}")
    if facts is None:
        return problems, [target]
    for image in facts["images"]:
        src = image["src"] or ""
        resolved = urljoin(page_url, src)
        external = urlsplit(resolved).scheme in ("http", "https") and not resolved.startswith(
            site_url
        )
        if image["width"] == 0 and not external:
            problems.append(f"image shows nothing (naturalWidth 0): {src}")
    if name.startswith("notebooks/") and Path(name).stem + ".ipynb" not in PENDING:
        problems += [
            f"a code cell scrolls sideways at 1280 pixels: {line.strip()[:60]!r} "
            f"({len(line)} characters)"
            for line in facts["wide_code"]
        ]
    if facts["tracebacks"]:
        problems.append(f"{facts['tracebacks']} cell output(s) are errors (.output.traceback)")
    if TRACEBACK in facts["text"]:
        problems.append(f"the page shows a Python traceback ({TRACEBACK!r})")
    if facts["mathjax"] not in (None, "ok"):
        problems.append(facts["mathjax"])
    problems += [f"math not rendered by MathJax: {tex}" for tex in facts["unrendered"]]
    problems += [f"TeX error in math: {error}" for error in facts["tex_errors"]]
    problems += [f"raw TeX left in the text: …{snippet}…" for snippet in raw_tex(facts["prose"])]
    problems += [
        f"widget output saved as junk: {marker!r}" for marker in widget_junk(facts["html"])
    ]
    references = facts["links"] + [image["src"] or "" for image in facts["images"]]
    return problems, references


def audit_site(
    browser: Browser,
    site_url: str,
    pages: list[str],
    screenshots: dict[str, Path] | None = None,
    mathjax_timeout_ms: int = MATHJAX_TIMEOUT_MS,
) -> list[str]:
    """Open every page, then request every internal link and image once: the problems.

    `screenshots` maps a page to the file its full-page screenshot is saved to.
    """
    screenshots = screenshots or {}
    problems = []
    referrers: dict[str, list[str]] = {}  # internal URL -> the pages that refer to it
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        for name in pages:
            found, references = audit_page(
                context, site_url, name, mathjax_timeout_ms, screenshots.get(name)
            )
            problems += [f"{name}: {problem}" for problem in found]
            for ref in references:
                url = internal_target(ref, site_url + name, site_url)
                if url is not None and name not in referrers.setdefault(url, []):
                    referrers[url].append(name)
    finally:
        context.close()
    for url, names in sorted(referrers.items()):
        status = fetch(url)[0]
        if status != 200:
            others = f" (and {len(names) - 1} other pages)" if len(names) > 1 else ""
            where = url[len(site_url) :]
            problems.append(f"{names[0]}{others}: broken link or image {where}: {status}")
    return problems


# -- Fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, headless; module-scoped so that Playwright's event loop ends with it."""
    check_chromium(CHROMIUM)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def book_html(tmp_path_factory) -> Path:
    """The built book's html folder: LMBOOK_BOOK_HTML's, or one built for this test."""
    given = os.environ.get("LMBOOK_BOOK_HTML")
    if given:
        html = Path(given).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(f"LMBOOK_BOOK_HTML={given} holds no built book (no index.html)")
        return html
    out = tmp_path_factory.mktemp("book")
    build = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]
    result = subprocess.run(
        [*build, "build", str(ROOT), "--path-output", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    html = out / "_build" / "html"
    if result.returncode or not (html / "index.html").is_file():
        pytest.fail(f"jupyter-book build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return html


@pytest.fixture(scope="module")
def book_url(book_html) -> Iterator[str]:
    with serve(book_html) as url:
        yield url


# -- The book ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def book_audit(browser, book_html, book_url) -> tuple[list[str], list[str], dict[str, Path]]:
    """Every page opened once: the pages, the problems, and the screenshots taken."""
    pages = book_pages(book_html)
    home = redirect_target((book_html / "index.html").read_text(encoding="utf-8"))
    chapter_1 = [page for page in pages if page.startswith("notebooks/01_")]
    screenshots = {home or "index.html": SCREENSHOTS / "home.png"}
    if chapter_1:
        screenshots[chapter_1[0]] = SCREENSHOTS / "chapter_01.png"
    # Chapter 6 shows the GPT in short cells that fit the column (issue 14).
    chapter_6 = [page for page in pages if page.startswith("notebooks/06_transformers")]
    if chapter_6:
        screenshots[chapter_6[0]] = SCREENSHOTS / "chapter_06.png"
    for path in screenshots.values():
        path.unlink(missing_ok=True)  # so that an old one never passes for a new one
    problems = audit_site(browser, book_url, pages, screenshots)
    return pages, problems, screenshots


def test_every_page_renders_cleanly(book_audit):
    pages, problems, _ = book_audit
    assert any(page.startswith("notebooks/") for page in pages), f"no chapter among {pages}"
    if problems:
        report = "\n".join(problems)
        pytest.fail(f"{len(problems)} problem(s) in the rendered book:\n{report}", pytrace=False)


def test_screenshots_of_the_home_page_and_chapter_1(book_audit):
    _, _, screenshots = book_audit
    assert SCREENSHOTS / "chapter_01.png" in screenshots.values(), "no notebooks/01_*.html"
    for page, path in screenshots.items():
        assert path.is_file() and path.stat().st_size > 10_000, f"no screenshot of {page}"
    print(f"\nscreenshots: {SCREENSHOTS / 'home.png'}, {SCREENSHOTS / 'chapter_01.png'}")


# -- The checks themselves, without a browser --------------------------------------------

SITE = "http://127.0.0.1:8000/"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("intro.html", SITE + "book/intro.html"),
        ("../notebooks/01.html#perplexity", SITE + "notebooks/01.html"),
        ("/_images/a.png", SITE + "_images/a.png"),
        (SITE + "genindex.html", SITE + "genindex.html"),
        ("../_static/x.js?v=1", SITE + "_static/x.js?v=1"),
        ("#section", None),
        ("", None),
        ("https://github.com/lmbook/lmbook", None),
        ("http://127.0.0.1:9999/other-server.html", None),
        ("mailto:someone@example.org", None),
        ("javascript:void(0)", None),
        ("data:image/png;base64,iVBORw0KGgo=", None),
    ],
)
def test_internal_target(ref, expected):
    assert internal_target(ref, SITE + "book/how_to_use.html", SITE) == expected


def test_raw_tex_finds_delimiters_left_in_the_text():
    assert raw_tex("the perplexity \\(e^H\\) of") == ["the perplexity \\(e^H\\) of"]
    assert len(raw_tex("\\[ x \\] and $$ y $$ and \\begin{align} z")) == 4
    assert raw_tex("a price of $3 and (brackets) [too]") == []


def test_widget_junk():
    progress = "HBox(children=(FloatProgress(value=0.0, max=10.0), HTML(value='')))"
    assert widget_junk(progress) == ["HBox("]
    assert widget_junk('{"application/vnd.jupyter.widget-view+json": {}}') == [WIDGET_JUNK[1]]
    assert widget_junk("<p>Loading widget...</p>") == ["Loading widget"]
    assert widget_junk("<p>100%|██████████| 10/10 [00:01&lt;00:00]</p>") == []


def test_redirect_target():
    assert redirect_target('<meta http-equiv="Refresh" content="0; url=book/intro.html" />') == (
        "book/intro.html"
    )
    assert redirect_target("<html><body>a page</body></html>") is None


def test_book_pages_leave_out_static_files(tmp_path):
    for name in ("index.html", "book/intro.html", "_static/x.html", "_sources/y.html", "a.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<p>", encoding="utf-8")
    assert book_pages(tmp_path) == ["book/intro.html", "index.html"]


def test_served_folder_answers_200_and_404_then_stops(tmp_path):
    (tmp_path / "page.html").write_text("<p>hello</p>", encoding="utf-8")
    with serve(tmp_path) as url:
        assert fetch(url + "page.html") == (200, b"<p>hello</p>")
        assert fetch(url + "missing.html")[0] == 404
    assert not isinstance(fetch(url + "page.html")[0], int)  # the server has stopped


def test_missing_chromium_says_how_to_install_it(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        check_chromium(str(tmp_path / "no-chromium"))


# -- The checks themselves, in the browser, on a tiny broken site ------------------------


def png(width: int = 1, height: int = 1) -> bytes:
    """A valid, blank PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"".join(b"\0" + b"\xff" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


MATHJAX = '<script defer src="mathjax/tex-chtml.js"></script>'
BROKEN_PAGE = rf"""<!doctype html>
<html><head><meta charset="utf-8">{MATHJAX}</head><body>
<p>Rendered: <span class="math">\(x^2\)</span>. Skipped by MathJax:
<span class="math mathjax_ignore">\(y_1\)</span>.
A TeX error: <span class="math">\(\frac{{1}}\)</span>.</p>
<p><a href="clean.html#top">a good link</a>, <a href="missing.html#part">a broken link</a>,
<a href="https://example.org/">an external link</a>, <a href="mailto:a@example.org">mail</a>.</p>
<img src="dot.png" alt="good"> <img src="missing.png" alt="missing">
<img src="empty.png" alt="empty file"> <img src="https://example.org/badge.svg" alt="external">
<div class="cell_output"><div class="output traceback"><pre>Traceback (most recent call last):
ZeroDivisionError: division by zero</pre></div></div>
<div class="output text_plain">
<pre>HBox(children=(FloatProgress(value=0.0), HTML(value='')))</pre></div>
<script src="https://cdn.example.org/library.js"></script>
<script>console.error("a deliberate console error"); throw new Error("a deliberate throw");</script>
</body></html>
"""
CLEAN_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8">{MATHJAX}</head><body>
<h1 id="top">Clean</h1><p>Math: <span class="math">\\(e^{{H}}\\)</span>, a picture:
<img src="dot.png" alt="dot">, code: <code>re.compile(r"\\(")</code>, a
<a href="broken.html">link</a> and an external image
<img src="https://colab.research.google.com/assets/colab-badge.svg" alt="badge">.</p>
</body></html>
"""
NO_MATHJAX_PAGE = '<!doctype html><p>Math: <span class="math">\\(z\\)</span></p>'
REDIRECT_PAGE = '<meta http-equiv="Refresh" content="0; url=clean.html" />'


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    """A four-page site: a page with one of each problem, a clean one, a redirect."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import lmbook_pages
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    site = tmp_path_factory.mktemp("site")
    (site / "mathjax").symlink_to(lmbook_pages.local_mathjax(), target_is_directory=True)
    (site / "dot.png").write_bytes(png(4, 3))
    (site / "empty.png").write_bytes(b"")
    pages = {
        "broken.html": BROKEN_PAGE,
        "clean.html": CLEAN_PAGE,
        "no_mathjax.html": NO_MATHJAX_PAGE,
        "index.html": REDIRECT_PAGE,
    }
    for name, html in pages.items():
        (site / name).write_text(html, encoding="utf-8")
    return site


def test_every_check_reports_its_problem(browser, broken_site):
    with serve(broken_site) as url:
        problems = audit_site(browser, url, book_pages(broken_site), mathjax_timeout_ms=1500)
    print("\n".join(problems))

    def reported(page: str, *words: str) -> bool:
        return any(p.startswith(f"{page}: ") and all(w in p for w in words) for p in problems)

    expected = {
        "console.error": ("console error", "a deliberate console error"),
        "uncaught error": ("uncaught JavaScript error", "a deliberate throw"),
        "broken link": ("broken link or image missing.html: 404",),
        "broken image": ("broken link or image missing.png: 404",),
        "image with no pixels": ("naturalWidth 0", "empty.png"),
        "error output": ("cell output(s) are errors",),
        "traceback text": ("Python traceback",),
        "math MathJax skipped": ("math not rendered", "y_1"),
        "TeX error": ("TeX error",),
        "raw TeX": ("raw TeX", "\\(y_1\\)"),
        "widget junk": ("widget output", "HBox("),
        "external script": ("fetches a script", "cdn.example.org"),
    }
    missed = [check for check, words in expected.items() if not reported("broken.html", *words)]
    assert not missed, f"not reported: {missed}; reported:\n" + "\n".join(problems)
    assert reported("no_mathjax.html", "MathJax did not load")
    assert reported("no_mathjax.html", "raw TeX", "\\(z\\)")
    # Nothing else: the good link and image, external links and images, code, the redirect.
    allowed = ("broken.html: ", "no_mathjax.html: ")
    assert [p for p in problems if not p.startswith(allowed)] == []
    fine = ("dot.png", "clean.html", "https://example.org/", "mailto:", "colab")
    assert [p for p in problems if any(word in p for word in fine)] == []
