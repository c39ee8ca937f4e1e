"""Real-browser helpers: Debian's Chromium driven by Playwright against the app on 127.0.0.1.

* :func:`require_browser` fails (never skips) with a clear message when Chromium or
  Playwright is missing: ``make test`` installs both (``apt-get install chromium``, ``pip
  install playwright``; ``playwright install`` is never run, Chromium comes from Debian).
* :func:`serve` runs a Flask app under a threaded werkzeug server on an ephemeral port.
* :func:`browser_context` launches Chromium headless with a fresh user-data directory.
* :class:`PageWatch` collects console errors, uncaught page errors and failed requests.
* Run as a script it writes screenshots of the main pages (``make screenshots``)::

      python tests/e2e/browser.py docs/screenshots
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
VIEWPORT = {"width": 1200, "height": 860}

#: The pages a person would look at first, by name: (path, what must be visible).
PAGES: dict[str, tuple[str, str]] = {
    "home": ("/?lang=en", "territory-kg"),
    "territory-lille": ("/page/commune/59350?lang=en", "Lille"),
    "cluster-team2": ("/page/organization/team2?lang=en", "TEAM2"),
    "company-alstom": ("/page/organization/alstom?lang=en", "Alstom"),
    "figure-euratechnologies": ("/page/observation/000_536db8c375fb4130/euratechnologies-start-ups-supported?lang=en",
                                "EuraTechnologies"),
    "search-villeneuve": ("/search?q=villeneuve+dascq&lang=en", "Villeneuve-d'Ascq"),
    "ontology": ("/def/eco?lang=en#Region", "Region"),
    "query-ui": ("/sparql?lang=en", "SPARQL query editor"),
}


class BrowserMissing(RuntimeError):
    """Chromium or Playwright is not installed; the message says how to install it."""


def require_browser() -> None:
    """Check that Debian's Chromium and Playwright for Python are installed.

    :raises BrowserMissing: naming what is missing and the command that installs it.
    """
    if not CHROMIUM.exists():
        raise BrowserMissing(f"Chromium is not installed at {CHROMIUM}: the browser tests need it. "
                             "Run 'make test' (its browser step runs 'apt-get install -y chromium') "
                             "or install it yourself with 'apt-get update && apt-get install -y chromium'.")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise BrowserMissing("Playwright for Python is not installed: run 'make test' (it installs the dev "
                             "extras) or '.venv/bin/pip install -e .[dev]'. Never 'playwright install': "
                             "the tests drive Debian's Chromium.") from None


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on ``127.0.0.1`` (threaded werkzeug, ephemeral port); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def browser_context(user_data_dir: Path | None = None) -> Iterator[Any]:
    """A headless Chromium context (Playwright sync API) with a fresh user-data directory.

    :raises BrowserMissing: if Chromium or Playwright is missing.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="kg-chromium-") as fresh, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data_dir or fresh), executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS),
            viewport=VIEWPORT, locale="en-GB", service_workers="block")
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageWatch:
    """What went wrong in a page: console errors, uncaught exceptions, failed or 4xx/5xx requests."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> PageWatch:
        """Start listening on ``page``; returns ``self``."""
        page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("requestfailed", lambda req: self.requests.append(f"failed {req.url}: {req.failure}"))
        page.on("response", lambda resp: self.requests.append(f"{resp.status} {resp.url}")
                if resp.status >= 400 else None)
        return self

    @property
    def problems(self) -> list[str]:
        """Everything collected, for one assertion."""
        return self.console + self.errors + self.requests


def take_screenshots(base_url: str, out_dir: Path) -> list[Path]:
    """Open each of :data:`PAGES` and save a viewport PNG ``{name}.png`` in ``out_dir``.

    :raises RuntimeError: if a page shows a console error, fails to load or lacks its text.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with browser_context() as context:
        for name, (path, text) in PAGES.items():
            page = context.new_page()
            watch = PageWatch().attach(page)
            resp = page.goto(base_url + path, wait_until="networkidle")
            if resp is None or resp.status != 200 or text not in page.inner_text("body") or watch.problems:
                raise RuntimeError(f"{path}: status {resp and resp.status}, problems {watch.problems}")
            target = out_dir / f"{name}.png"
            page.screenshot(path=str(target), full_page=False)
            page.close()
            written.append(target)
            log.info("wrote %s", target)
        page = context.new_page()
        page.goto(base_url + "/?lang=en", wait_until="networkidle")
        page.locator("#kg-search-input").press_sequentially("villeneuve dascq", delay=30)
        page.locator(".kg-suggest li").first.wait_for()
        target = out_dir / "autocomplete.png"
        page.screenshot(path=str(target), full_page=False)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    """``browser.py OUT_DIR``: screenshots of the served graph (configuration from ``KG_*``)."""
    from service import create_app

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out_dir = Path(argv[1] if len(argv) > 1 else "docs/screenshots")
    try:
        require_browser()
    except BrowserMissing as exc:
        log.error("%s", exc)
        return 2
    app = create_app({"QUERY_WORKERS": 0})
    with serve(app) as base_url:
        for path in take_screenshots(base_url, out_dir):
            log.info("%s: %d bytes", path, path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
