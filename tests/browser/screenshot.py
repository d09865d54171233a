"""The README's screenshot: `python -m tests.browser.screenshot docs/sandbox.png` (needs Chromium and Playwright)."""

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.workspace import TIMEOUT_MS, VIEWPORT, Sandbox, browser_missing, chromium, warroom_sandbox


def take(target: Path) -> None:
    """A sandbox mid-incident: the Alertmanager sample's channel, acknowledged, its first runbook step done."""
    expect.set_options(timeout=TIMEOUT_MS)
    with (
        tempfile.TemporaryDirectory(prefix="warroom-screenshot-") as tmp,
        warroom_sandbox(Path(tmp)) as bot,
        chromium() as browser,
    ):
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        sandbox = Sandbox(context.new_page(), bot.url, bot.log)
        sandbox.watch()
        sandbox.open(user="U0ALICE")
        sandbox.send_sample("alertmanager", "firing")
        sandbox.open_channel("inc-1-")
        card = sandbox.card()
        sandbox.button("Acknowledge", card).click()
        expect(card).to_contain_text(re.compile(r"Status\s+\S*\s*Acknowledged"))
        checklist = sandbox.messages("Verify the instance is really running out of storage")
        sandbox.button("Done", checklist).click()
        expect(checklist).to_contain_text("Done by @alice")
        # Start the view at the card, so it and the top of the checklist under it are in the picture.
        card.evaluate("element => element.scrollIntoView({block: 'start'})")
        sandbox.page.get_by_test_id("message-box").fill("/incident why the WAL volume filled up")
        sandbox.page.mouse.move(VIEWPORT["width"] - 10, VIEWPORT["height"] - 10)  # no hover highlight
        target.parent.mkdir(parents=True, exist_ok=True)
        sandbox.page.screenshot(path=str(target))
        problems = sandbox.page_errors + sandbox.outside_requests
        assert problems == [], problems
        context.close()


def main() -> None:
    missing = browser_missing()
    if missing:
        sys.exit(f"cannot take the screenshot: {missing}")
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sandbox.png")
    take(target)
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
