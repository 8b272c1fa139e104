"""Start `streamlit run app.py` on a free localhost port, drive it with Debian's Chromium, time its pages.

Used by the browser tests (``tests/browser/``) and the app benchmarks (``benchmarks/bench_app_*``,
``bench_compare``): one way to start the server, launch Chromium and time a page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from testkit.paths import REPO

CHROMIUM = os.environ.get("LEMOF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_found() -> bool:
    """Whether Debian's Chromium is installed where ``CHROMIUM`` says."""
    import shutil

    return Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is not None


@contextmanager
def chromium():
    """A headless Chromium (Playwright's ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright  # lazy: only browser tests and benchmarks need Playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout_s: float = 120, script: Path | None = None, on_start=None,
                     port: int | None = None, args: tuple[str, ...] = ()) -> Iterator[str]:
    """Yield the base URL of a running `streamlit run app.py` (or ``script``); stop it afterwards.

    ``on_start(process)`` is called with the server's ``Popen`` (benchmarks read its memory);
    ``args`` are more options of ``streamlit run`` (``--secrets.files``...)."""
    port = port or free_port()
    log_path = REPO / "test-artifacts" / f"streamlit-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script or "app.py"), "--server.port", str(port), "--server.headless", "true", *args],
            cwd=script.parent if script else REPO,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        if on_start is not None:
            on_start(proc)
        try:
            deadline = time.time() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise TimeoutError(f"streamlit did not become healthy in {timeout_s} s; see {log_path}")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait for the app to render and for the script run to finish (no running indicator)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const running = document.querySelector('[data-testid="stStatusWidget"]');
            return app && app.getAttribute('data-test-script-state') !== 'running' && !running;
        }""",
        timeout=timeout_ms,
    )


def full_page_shot(page, path: Path, width: int, height: int, max_height: int = 12000) -> None:
    """A full-page screenshot of ``page`` at ``path``: Streamlit scrolls inside its main block, so the
    window grows to the content for the shot and returns to ``width`` × ``height`` afterwards."""
    path.parent.mkdir(exist_ok=True)
    content = page.evaluate("() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
    page.set_viewport_size({"width": width, "height": min(int(content) + 80, max_height)})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": height})


def charts_drawn(page) -> int:
    """Number of Plotly charts that have actually drawn (an SVG inside), not just their frames."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                      .filter(c => c.querySelector('.main-svg')).length"""
    )


def wait_for_charts(page, n: int, timeout_ms: int = 90_000) -> None:
    """Wait until at least ``n`` Plotly charts have drawn and no loading skeleton is left."""
    page.wait_for_function(
        f"""() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                      .filter(c => c.querySelector('.main-svg')).length >= {n}
                  && !document.querySelector('[data-testid="stSkeleton"]')""",
        timeout=timeout_ms,
    )


# A page is ready when at least n Plotly charts have drawn, no loading skeleton is left, no script
# runs and (when given) the main area shows a text — the case page's first screen has no chart:
# it is ready when its reasons' sum line ("… everything else = 4.4 d") is on screen.
PAGE_READY_JS = """([n, text]) => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                      .filter(c => c.querySelector('.main-svg')).length >= n
                  && !document.querySelector('[data-testid="stSkeleton"]')
                  && !document.querySelector('[data-testid="stStatusWidget"]')
                  && (!text || (document.querySelector('[data-testid="stMain"]') || {innerText: ''}).innerText.includes(text))"""
CHARTS_READY_JS = """(n) => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
                      .filter(c => c.querySelector('.main-svg')).length >= n
                  && !document.querySelector('[data-testid="stSkeleton"]')
                  && !document.querySelector('[data-testid="stStatusWidget"]')"""

# What a visitor sees first has drawn (the script may still run).
FIRST_PAINT_JS = PAGE_READY_JS.replace("&& !document.querySelector('[data-testid=\"stStatusWidget\"]')", "")

CASE_FIRST_TEXT = "Predicted length of stay"  # the headline
CASE_READY_TEXT = "everything else ="  # the reasons' sum line: the first screen is complete


def time_page(page, url: str, charts: int = 0, first_paint: int | None = None, timeout_ms: int = 180_000, *,
              text: str | None = None, first_text: str | None = None) -> tuple[float | None, float]:
    """Open ``url`` in ``page``: seconds until what is seen first has drawn (its first ``first_paint``
    charts, or ``first_text``; None when neither is asked) and until the page is ready
    (``PAGE_READY_JS``: ``charts`` charts and ``text``, nothing running). The page is left idle. The
    one timing loop of the app benchmarks."""
    t = time.perf_counter()
    page.goto(url)
    first = None
    if first_paint is not None or first_text is not None:
        page.wait_for_function(FIRST_PAINT_JS, arg=[min(first_paint or 0, charts), first_text], timeout=timeout_ms)
        first = time.perf_counter() - t
    page.wait_for_function(PAGE_READY_JS, arg=[charts, text], timeout=timeout_ms)
    ready = time.perf_counter() - t
    wait_until_idle(page, timeout_ms)
    return first, ready
