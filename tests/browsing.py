"""What the browser tests share: Debian's Chromium driven by Playwright, and a real local server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def new_context(browser: Browser, base_url: str, **options: object) -> BrowserContext:
    settings: dict[str, object] = {"locale": "en-US", "accept_downloads": True, **options}
    context = browser.new_context(base_url=base_url, **settings)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    return context


def serve(app: Flask) -> Iterator[str]:
    """The app served for real on 127.0.0.1, on a port the system picks."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def launch() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium not installed: apt-get install chromium (looked for {CHROMIUM})"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests. {message}", pytrace=False)
        pytest.skip("Chromium not installed: apt-get install chromium")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
