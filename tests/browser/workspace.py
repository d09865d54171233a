"""Warroom in sandbox mode as a child process, Debian's Chromium under Playwright, and the page's moves."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.process import BotProcess

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Locator, Page, Route, ViewportSize

REPO = Path(__file__).resolve().parents[2]
# Debian's package, not a browser downloaded by `playwright install`; WARROOM_TEST_CHROMIUM points elsewhere.
CHROMIUM = os.environ.get("WARROOM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: "ViewportSize" = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000  # one wait; the page polls every second and the outbox delivers within one or two


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -c constraints.txt -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)"
    return None


def require_browser() -> None:
    """Skip without Playwright or Chromium, except in CI where that is a failure (in a fixture or a module)."""
    missing = browser_missing()
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests are required in CI: {missing}")
    pytest.skip(missing, allow_module_level=True)


@contextmanager
def chromium() -> "Iterator[Browser]":
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def warroom_sandbox(workdir: Path) -> Iterator[BotProcess]:
    """`warroom serve` with no Slack settings, on a free port, with its own SQLite file and sandbox state."""
    env = {
        "DATABASE_URL": f"sqlite:///{workdir / 'warroom.db'}",
        "SANDBOX_STATE_FILE": str(workdir / "sandbox.json"),
        "PLAYBOOKS_DIR": str(REPO / "playbooks"),
        "LOG_FORMAT": "console",
    }
    bot = BotProcess(env, workdir, workdir / "serve.log")
    bot.start()
    try:
        yield bot
    finally:
        bot.stop()


@dataclass
class Sandbox:
    """The page at /sandbox in one browser context, with what it did that it should not have."""

    page: "Page"
    url: str
    log: Path
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("console", lambda m: self.page_errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("dialog", self._dialog)
        # Nothing may leave the machine: any request not to Warroom is refused and remembered.
        self.page.context.route(lambda url: not url.startswith(self.url), self._outside)

    def _dialog(self, dialog: "Dialog") -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _outside(self, route: "Route") -> None:
        self.outside_requests.append(route.request.url)
        route.abort()

    # -- moves ------------------------------------------------------------------------------

    def open(self, user: str | None = None) -> None:
        self.page.goto(f"{self.url}/sandbox" + (f"?user={user}" if user else ""))
        self.page.get_by_test_id("sandbox-banner").wait_for()

    def send_sample(self, source: str = "alertmanager", status: str = "firing") -> None:
        self.page.get_by_test_id(f"sample-alert-{source}-{status}").click()
        self.result_says("answered 202")

    def result_says(self, text: str) -> None:
        self.page.get_by_test_id("sample-alert-result").filter(has_text=text).wait_for()

    def channel_item(self, prefix: str) -> "Locator":
        return self.page.locator(f'[data-testid="channel-item"][data-channel-name^="{prefix}"]')

    def open_channel(self, prefix: str) -> None:
        item = self.channel_item(prefix)
        item.wait_for()
        item.click()
        self.page.get_by_test_id("channel-title").filter(has_text=re.compile(rf"^#{re.escape(prefix)}")).wait_for()
        self.page.locator(
            f'[data-testid="channel-item"][data-channel-name^="{prefix}"][aria-current="page"]'
        ).wait_for()

    def messages(self, text: str | re.Pattern[str] | None = None) -> "Locator":
        found = self.page.get_by_test_id("message")
        return found.filter(has_text=text) if text is not None else found

    def card(self, number: int = 1) -> "Locator":
        """The incident card: the message whose Block Kit header is `#<number> <title>`."""
        header = self.page.locator("h3.bk-header").filter(has_text=re.compile(rf"^#{number}\s"))
        return self.messages().filter(has=header)

    def button(self, label: str, within: "Locator | None" = None) -> "Locator":
        scope = within if within is not None else self.page
        return scope.get_by_test_id("button").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))

    def confirm(self) -> None:
        dialog = self.page.get_by_test_id("confirm-dialog").and_(self.page.locator("dialog[open]"))
        dialog.get_by_test_id("confirm-accept").click()
        dialog.wait_for(state="hidden")

    def send(self, text: str) -> None:
        box = self.page.get_by_test_id("message-box")
        box.fill(text)
        box.press("Enter")
        # The box is cleared once Warroom accepted the command.
        self.page.wait_for_function("() => document.getElementById('message-box').value === ''")

    def act_as(self, user: str) -> None:
        name = self.page.locator(f'#user-switcher option[value="{user}"]').inner_text()
        self.page.get_by_test_id("user-switcher").select_option(user)
        self.page.wait_for_url(re.compile(rf"[?&]user={user}\b"))
        self.page.get_by_test_id("status").filter(has_text=f"Acting as {name}.").wait_for()

    def save_artifacts(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        shot, html = folder / "page.png", folder / "page.html"
        self.page.screenshot(path=str(shot), full_page=True)
        html.write_text(self.page.content())
        return [shot, html, self.log]
