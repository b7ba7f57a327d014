"""Browser tests: the real app served by a subprocess, driven by Debian's headless Chromium.

``live_server`` runs ``gridwatch serve`` on a free port against the demo city;
``browser`` is Chromium from ``/usr/bin/chromium`` (never a downloaded one); ``page``
is a fresh context per test that fails the test if the page fetched anything from
outside this machine or logged errors to the console.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    WebSocket,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import Engine

from tests.conftest import TEST_PASSWORD

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # a proxy from the environment must not sit between us and 127.0.0.1
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
HOSTLESS_SCHEMES = frozenset({"data", "blob", "about"})

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 10.0
LOG_TAIL_CHARS = 4000
ACTION_TIMEOUT_MS = 15_000
FLUSH_TIMEOUT_MS = 2_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e: it drives Chromium and serves the demo city."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


# -- the live server --------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:] or "(no output)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(url: str) -> bool:
    # No proxy: http_proxy in the environment must not intercept 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:  # 503 while the database is not reachable yet
        exc.close()
        return False
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def live_server(
    demo_engine: Engine, demo_users: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of ``gridwatch serve`` running in a subprocess against the demo city,
    with the demo accounts (password ``TEST_PASSWORD``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GRIDWATCH_DATABASE_URL": demo_engine.url.render_as_string(hide_password=False),
        "GRIDWATCH_SECRET_KEY": "e2e-not-a-secret",
        "GRIDWATCH_SLA_ENABLED": "false",  # the demo's overdue cases stay as loaded
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-c",
        "from app.cli import main; main(prog_name='gridwatch')",
        *("serve", "--host", "127.0.0.1", "--port", str(port)),
    ]
    # A file, not a pipe: nobody drains a pipe while tests run, and a full one blocks
    # the server on its next log line.
    log = tmp_path_factory.mktemp("live_server") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"gridwatch serve exited with {process.returncode} before answering "
                    f"/healthz; its output:\n{_log_tail(log)}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"gridwatch serve did not answer {url}/healthz within "
                    f"{SERVER_START_TIMEOUT:.0f}s; its output:\n{_log_tail(log)}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; browsers are never downloaded."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found; install it with: scripts/bootstrap --test")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass
class PageWatch:
    """What a page did that a test may not allow: foreign requests, console errors."""

    page: Page
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # console errors a test provokes

    def expect_error(self, fragment: str) -> None:
        """Allow console and page errors containing ``fragment`` (e.g. a refused
        sign-in's 401)."""
        self.expected.append(fragment)

    def on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def on_websocket(self, websocket: WebSocket) -> None:
        self.urls.append(websocket.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(f in message.text for f in self.expected):
            where = message.location.get("url", "")
            self.errors.append(f"console: {message.text}" + (f" ({where})" if where else ""))

    def on_page_error(self, error: PlaywrightError) -> None:
        if any(f in error.message for f in self.expected):
            return
        self.errors.append(f"pageerror: {error.name}: {error.message}")

    def foreign_urls(self) -> list[str]:
        """Requested URLs whose host is not this machine."""
        foreign = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme not in HOSTLESS_SCHEMES and parts.hostname not in LOCAL_HOSTS:
                foreign.append(url)
        return foreign

    def problems(self) -> list[str]:
        """Everything to fail the test for, after events still in flight are delivered."""
        if not self.page.is_closed():
            # A round trip to the renderer: events it sent earlier arrive before the answer.
            # Bounded, as a hung page never answers; then report what did arrive.
            with contextlib.suppress(PlaywrightError):
                self.page.wait_for_function("true", timeout=FLUSH_TIMEOUT_MS)
        found = [f"request to a foreign host: {url}" for url in dict.fromkeys(self.foreign_urls())]
        return found + self.errors


WATCH = pytest.StashKey[PageWatch]()


@pytest.fixture
def anonymous_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context and page (1600x1000, zh-CN), watched for foreign requests and
    errors, not signed in."""
    context = browser.new_context(
        viewport={"width": 1600, "height": 1000},
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    new_page = context.new_page()
    watch = PageWatch(new_page)
    context.on("request", watch.on_request)
    new_page.on("websocket", watch.on_websocket)
    new_page.on("console", watch.on_console)
    new_page.on("pageerror", watch.on_page_error)
    request.node.stash[WATCH] = watch
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture
def page(anonymous_page: Page, live_server: str) -> Page:
    """``anonymous_page`` signed in as the demo operator through the login form."""
    sign_in(anonymous_page, live_server, "operator")
    return anonymous_page


def sign_in(page: Page, base: str, username: str, lang: str = "zh") -> None:
    """Sign in through the real login form and wait for the first page."""
    page.goto(f"{base}/login?lang={lang}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    try:
        page.wait_for_url(lambda url: "/login" not in url)
    except PlaywrightError:
        error = page.locator(".login-error").all_inner_texts()
        pytest.fail(f"signing in as {username} failed: {error or page.url}", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test whose page fetched from outside this machine or logged errors.

    Checked right after the test body, so it is reported as the test's failure; a test
    that already failed gets the list as a report section instead.
    """
    watch = item.stash.get(WATCH, None)
    try:
        result = yield
    except BaseException:
        if watch is not None and (problems := watch.problems()):
            item.add_report_section("call", "browser", "\n".join(problems))
        raise
    if watch is not None and (problems := watch.problems()):
        pytest.fail("the page misbehaved:\n" + "\n".join(f"  {p}" for p in problems), pytrace=False)
    return result
