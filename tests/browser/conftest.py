"""Browser fixtures: Debian's Chromium under Playwright against Warroom in sandbox mode; artifacts on failure.

Skipped without Playwright or /usr/bin/chromium, a failure under CI=true. When a test fails, a full-page
screenshot, the page's HTML and the server log path are listed under "browser artifacts" in the report
(in WARROOM_TEST_ARTIFACTS/<test> when that is set, else in the test's tmp_path/artifacts).
"""

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.workspace import TIMEOUT_MS, VIEWPORT, Sandbox, chromium, require_browser, warroom_sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def browser() -> "Iterator[Browser]":
    # Per test, not per session: sync Playwright marks its event loop as running for as long as it lives,
    # which would break every asyncio test that runs after the browser tests.
    require_browser()
    with chromium() as launched:
        yield launched


@pytest.fixture
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh Warroom (own port, SQLite file and sandbox state) and a fresh browser context on its /sandbox."""
    require_browser()
    browser: Browser = request.getfixturevalue("browser")
    with warroom_sandbox(tmp_path) as bot:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = Sandbox(context.new_page(), bot.url, bot.log)
            page.watch()
            yield page
            if not request.node.stash.get(CALL_FAILED, False):
                assert page.page_errors == [], "the page logged errors"
                assert page.outside_requests == [], "the page asked for something outside Warroom"
        finally:
            context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
        page = getattr(item, "funcargs", {}).get("sandbox")
        if report.failed and isinstance(page, Sandbox):
            named = os.environ.get("WARROOM_TEST_ARTIFACTS")
            folder = Path(named) / item.name if named else page.log.parent / "artifacts"
            try:
                saved = [str(path) for path in page.save_artifacts(folder)]
            except Exception as error:  # a crashed page must not hide the test's own failure
                saved = [f"could not save the page ({error}); server log: {page.log}"]
            report.sections.append(("browser artifacts", "\n".join(saved)))
            print(f"\nbrowser artifacts for {item.nodeid}: {folder}")
    return report
