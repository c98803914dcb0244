"""Browser tests: people using the demo site in Chromium, as the README's tour describes.

One server (``server.DemoServer``) and one Chromium serve the whole e2e package; every test
gets fresh browser contexts, one per person, so nobody's session leaks into another's test.
Each step's screenshot goes to ``test-artifacts/e2e/<module>/<test>/`` (git-ignored).
Every page a test opens is watched for Content Security Policy violations: any one fails the
test (``PolicyViolations``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from .browsing import sign_in
from .server import REPO, DemoServer

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "e2e"
# Debian's Chromium, never a downloaded one; no sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A British setting's screen: its language, its clock, a laptop-sized window (wide enough
# for the menu drawer to stay open beside the page).
CONTEXT_OPTIONS: dict[str, Any] = {
    "locale": "en-GB",
    "timezone_id": "Europe/London",
    "viewport": {"width": 1280, "height": 900},
}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{CHROMIUM} is missing: CI must run the browser tests (.ci/browser installs it)"
        )
    pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    _require_chromium()
    demo = DemoServer(tmp_path_factory.mktemp("e2e-server"))
    try:
        demo.start()
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """One Chromium for the package (Playwright's sync API runs once per thread), whichever
    site its tests visit."""
    _require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def browser(server: DemoServer, chromium: Browser) -> Browser:
    """Chromium, with the demo site serving."""
    return chromium


@pytest.fixture(scope="package")
def signed_in_states() -> dict[str, Any]:
    """Each person's session after their first sign-in, so later tests skip the form."""
    return {}


# Runs in every page and frame before the page's own scripts (init scripts are not subject
# to the page's policy) and passes each violation the page reports to PolicyViolations.
_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const where = event.sourceFile ? ` at ${event.sourceFile}:${event.lineNumber}` : "";
  window.safeshareReportViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "(unknown)"} on ` +
      `${event.documentURI}${where}${event.sample ? `: ${event.sample}` : ""}`
  );
});
"""


class PolicyViolations:
    """Every Content Security Policy violation in the browser contexts of one test.

    Two witnesses, so nothing slips by: the ``securitypolicyviolation`` event each document
    fires, and Chromium's console message ("Refused to ...", "... violates the following
    Content Security Policy directive"), which also covers what no script sees, such as a
    blocked form submission.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        context.expose_binding("safeshareReportViolation", self._reported)
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", self._console)

    def _reported(self, source: dict[str, Any], description: str) -> None:
        self.seen.append(f"event: {description}")

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            page = message.page.url if message.page else "(no page)"
            self.seen.append(f"console on {page}: {message.text}")

    def settle(self, context: BrowserContext) -> None:
        """Let each open page deliver a violation it reported just before the test ended."""
        for page in context.pages:
            # A page closed or navigating away has delivered what it reported already.
            with contextlib.suppress(PlaywrightError):
                page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 50))")


@pytest.fixture
def new_context(
    request: pytest.FixtureRequest, browser: Browser, server: DemoServer
) -> Iterator[Callable[..., BrowserContext]]:
    with contexts_on(request, browser, server) as make:
        yield make


@contextlib.contextmanager
def contexts_on(
    request: pytest.FixtureRequest, browser: Browser, server: DemoServer
) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh browser contexts on ``server`` for one test, each watched for Content Security
    Policy violations (any one fails the test), with the evidence kept when it fails."""
    contexts: list[BrowserContext] = []
    violations = PolicyViolations()

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(base_url=server.base_url, **CONTEXT_OPTIONS, **options)
        context.set_default_timeout(15_000)
        violations.watch(context)
        contexts.append(context)
        return context

    yield make
    try:
        for context in contexts:
            violations.settle(context)
        if request.node.stash.get(_FAILED, False):
            _keep_evidence(request.node, contexts, server)
    finally:
        for context in contexts:
            context.close()
    if violations.seen:
        pytest.fail(
            "The Content Security Policy was violated:\n"
            + "\n".join(dict.fromkeys(violations.seen)),
            pytrace=False,
        )


def _keep_evidence(node: pytest.Item, contexts: list[BrowserContext], server: DemoServer) -> None:
    """A failed test leaves a picture of every page it had open, and the server's log."""
    folder = _folder(node)
    folder.mkdir(parents=True, exist_ok=True)
    for number, context in enumerate(contexts, start=1):
        for page_number, page in enumerate(context.pages, start=1):
            page.screenshot(path=str(folder / f"failed-{number}-{page_number}.png"), full_page=True)
    print(f"Server log, last lines:\n{server.log_tail()}")


@pytest.fixture
def visitor(new_context: Callable[..., BrowserContext]) -> Page:
    """Someone who has not signed in."""
    return new_context().new_page()


@pytest.fixture
def person(
    new_context: Callable[..., BrowserContext], signed_in_states: dict[str, Any]
) -> Callable[[str], Page]:
    """``person("lead")``: a page in that person's own browser, signed in."""

    def open_as(username: str) -> Page:
        state = signed_in_states.get(username)
        page = new_context(storage_state=state).new_page()
        if state is None:
            sign_in(page, username)
            signed_in_states[username] = page.context.storage_state()
        else:
            page.goto("/")
        return page

    return open_as


_FAILED = pytest.StashKey[bool]()


class Screenshots:
    """Numbered full-page screenshots of one test's steps."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def __call__(self, page: Page, step: str) -> Path:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.folder / f"{self.count:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _folder(node: pytest.Item) -> Path:
    module = node.module.__name__.rsplit(".", 1)[-1]  # type: ignore[attr-defined]
    return SCREENSHOTS / module / re.sub(r"[^A-Za-z0-9_.-]+", "-", node.name)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(_folder(request.node))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report
