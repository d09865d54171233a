"""The sandbox page in Debian's Chromium: an incident from a sample alert to an approved postmortem, by clicking."""

import re

import httpx

from bot.app import SANDBOX_WEBHOOK_TOKEN
from tests.browser.workspace import TIMEOUT_MS, Sandbox, require_browser

require_browser()  # before Playwright is imported: skipped without it or Chromium, a failure under CI=true
from playwright.sync_api import Page, expect  # noqa: E402

expect.set_options(timeout=TIMEOUT_MS)

TITLE = "Postgres volume on db-payments-1.prod:5432 is 97% full"  # the Alertmanager sample's summary
HOSTILE_TITLE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def start_incident(sandbox: Sandbox) -> None:
    """Alice sends the Alertmanager sample and opens the incident channel it creates."""
    sandbox.open()
    sandbox.send_sample("alertmanager", "firing")
    sandbox.open_channel("inc-1-")
    expect(sandbox.card()).to_contain_text(TITLE)


def test_sample_alert_opens_the_channel_and_its_card_acknowledges(sandbox: Sandbox) -> None:
    sandbox.open()
    expect(sandbox.channel_item("inc-")).to_have_count(0)
    sandbox.send_sample("alertmanager", "firing")
    expect(sandbox.channel_item("inc-1-postgres-volume")).to_be_visible()
    sandbox.open_channel("inc-1-")
    card = sandbox.card()
    expect(card.locator("h3.bk-header")).to_have_text(f"#1 {TITLE}")
    expect(card).to_contain_text(re.compile(r"Status\s+\S*\s*Triggered"))
    expect(card).to_contain_text("nobody yet")  # no commander before someone acknowledges

    sandbox.button("Acknowledge", card).click()
    expect(card).to_contain_text(re.compile(r"Status\s+\S*\s*Acknowledged"))
    expect(sandbox.button("Acknowledge", card)).to_have_count(0)
    expect(sandbox.button("Mitigate", card)).to_be_visible()
    expect(card.locator(".bk-mention")).to_contain_text(["@alice"])  # whoever acknowledges commands
    expect(card).to_contain_text("(edited)")  # the same message, updated in place


def test_runbook_step_done_shows_who_did_it(sandbox: Sandbox) -> None:
    start_incident(sandbox)
    # playbooks/db-storage-full.yaml matches the Alertmanager sample; only its first step is open.
    checklist = sandbox.messages("Verify the instance is really running out of storage")
    expect(checklist).to_contain_text("0 of 4 steps done")
    expect(checklist).to_contain_text("waits for: verify")
    expect(checklist).to_contain_text("Instance: db-payments-1.prod:5432")  # rendered from the alert's labels
    expect(checklist).not_to_contain_text("Done by")
    done = sandbox.button("Done", checklist)
    expect(done).to_have_count(1)

    done.click()
    expect(checklist).to_contain_text("Done by @alice")
    expect(checklist).to_contain_text("1 of 4 steps done")
    expect(checklist).not_to_contain_text("waits for: verify")  # the next step opened
    expect(done).to_have_count(0)


def test_five_whys_resolve_and_approve_the_postmortem(sandbox: Sandbox) -> None:
    start_incident(sandbox)
    whys = ("the WAL volume filled up", "archiving to the bucket had failed for two days")
    for why in whys:
        sandbox.send(f"/incident why {why}")
    added = sandbox.messages("Five-whys answer added").and_(sandbox.page.locator('[data-ephemeral="true"]'))
    expect(added).to_have_count(2)

    sandbox.button("Resolve", sandbox.card()).click()
    sandbox.confirm()
    modal = sandbox.page.get_by_test_id("modal")
    expect(modal).to_be_visible()
    expect(modal.get_by_test_id("modal-title")).to_be_visible()
    modal.get_by_test_id("input").first.fill("Archiving broke, WAL piled up and filled the volume")
    modal.get_by_test_id("modal-submit").click()
    expect(modal).to_have_count(0)
    expect(sandbox.card()).to_contain_text(re.compile(r"Status\s+\S*\s*Resolved"))

    summary = sandbox.messages(re.compile(r"Postmortem for incident #1\b"))
    expect(summary).to_have_count(1)
    # The answers from the form make version 2; its buttons replace version 1's (a click on those would be stale).
    expect(summary).to_contain_text("version 2")
    for label in ("Open draft", "Edit", "Approve", "Request changes"):
        expect(sandbox.button(label, summary)).to_be_visible()

    # Open draft is a link button: it opens the draft's web page in a new tab, as Slack would.
    with sandbox.page.context.expect_page() as opened:
        sandbox.button("Open draft", summary).click()
    draft = opened.value
    draft.wait_for_load_state()
    assert draft.url.startswith(sandbox.url), draft.url
    for why in whys:
        expect(draft.locator("body")).to_contain_text(why)
    expect(draft.locator("body")).to_contain_text(re.compile("why", re.IGNORECASE))
    draft.close()

    sandbox.button("Approve", summary).click()
    sandbox.confirm()
    expect(summary).to_contain_text("Approved")
    expect(summary).to_contain_text("Approved by @alice")
    expect(sandbox.button("Approve", summary)).to_have_count(0)


def test_ephemeral_messages_belong_to_the_person_who_got_them(sandbox: Sandbox) -> None:
    sandbox.open(user="U0ALICE")
    mine = sandbox.page.locator('[data-testid="message"][data-ephemeral="true"]')
    sandbox.send("/incident help")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("/incident")

    sandbox.act_as("U0BOB")
    expect(mine).to_have_count(0)  # alice's help is hers alone
    sandbox.send("hello from bob")
    expect(sandbox.messages("hello from bob")).to_have_attribute("data-author", re.compile("[Bb]ob"))
    sandbox.send("/incident help")
    expect(mine).to_have_count(1)
    bobs = mine.first.get_attribute("data-ts")

    sandbox.act_as("U0CAROL")
    expect(mine).to_have_count(0)
    expect(sandbox.messages("hello from bob")).to_have_count(1)  # a channel message everyone sees

    sandbox.act_as("U0ALICE")
    expect(mine).to_have_count(1)
    assert mine.first.get_attribute("data-ts") != bobs
    sandbox.page.get_by_test_id("dismiss-ephemeral").click()
    expect(mine).to_have_count(0)
    sandbox.act_as("U0BOB")
    expect(mine).to_have_count(1)  # dismissing hers left his


def focus_testid(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.dataset.testid || ''"))


def tab_to(page: Page, wanted: str | re.Pattern[str], limit: int = 120) -> None:
    """Press Tab until the focused element's data-testid or text matches."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        testid = focus_testid(page)
        text = str(page.evaluate("() => (document.activeElement.textContent || '').trim()"))
        seen.append(f"{testid}:{text[:20]}")
        if (isinstance(wanted, str) and testid == wanted) or (isinstance(wanted, re.Pattern) and wanted.search(text)):
            return
    raise AssertionError(f"Tab never reached {wanted!r}; focus went through {seen}")


def test_keyboard_reaches_the_message_box_and_buttons_and_the_banner_says_not_slack(sandbox: Sandbox) -> None:
    sandbox.open()
    page = sandbox.page
    expect(page.get_by_test_id("sandbox-banner")).to_contain_text("Local sandbox — not Slack")
    expect(page).to_have_title(re.compile("not Slack"))

    # The first Tab stop is the skip link; following it lands in the message box.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the message box")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("message-box")).to_be_focused()

    page.keyboard.type("/incident declare Checkout is down")
    page.keyboard.press("Enter")
    expect(sandbox.channel_item("inc-1-checkout-is-down")).to_be_visible()

    page.evaluate("() => document.activeElement.blur()")  # start from the top again
    tab_to(page, re.compile(r"^#inc-1-checkout-is-down$"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("channel-title")).to_have_text("#inc-1-checkout-is-down")

    card = sandbox.card()
    expect(sandbox.button("Acknowledge", card)).to_be_visible()
    tab_to(page, re.compile(r"^Acknowledge$"))
    page.keyboard.press("Enter")
    expect(card).to_contain_text(re.compile(r"Status\s+\S*\s*Acknowledged"))

    tab_to(page, "message-box")
    tab_to(page, "message-send")
    tab_to(page, "sample-alert-alertmanager-firing")
    page.keyboard.press("Enter")
    sandbox.result_says("answered 202")


def test_hostile_alert_text_is_shown_as_text_and_never_runs(sandbox: Sandbox) -> None:
    sent = httpx.post(
        f"{sandbox.url}/webhooks/generic",
        json={"title": HOSTILE_TITLE, "dedup_key": "hostile", "severity": 2, "service": "<b>svc</b>"},
        headers={"authorization": f"Bearer {SANDBOX_WEBHOOK_TOKEN}"},
        timeout=10,
    )
    assert sent.status_code == 202, sent.text
    sandbox.open()
    announce = sandbox.messages(HOSTILE_TITLE)
    expect(announce.first).to_be_visible()  # the announcement in #incidents, as text
    sandbox.open_channel("inc-1-")
    card = sandbox.card()
    expect(card.locator("h3.bk-header")).to_have_text(f"#1 {HOSTILE_TITLE}")
    expect(card).to_contain_text("<b>svc</b>")
    expect(sandbox.page.locator("#channel-header")).to_contain_text(HOSTILE_TITLE)  # the topic

    # One more redraw of everything (the card is edited in place) before looking for side effects.
    sandbox.button("Acknowledge", card).click()
    expect(card).to_contain_text(re.compile(r"Status\s+\S*\s*Acknowledged"))
    assert sandbox.dialogs == []
    expect(sandbox.page.locator("#sandbox img, #sandbox script")).to_have_count(0)
    expect(sandbox.page.locator("#sandbox b").filter(has_text="svc")).to_have_count(0)


SLOW_POLLS = """() => {
  // Every poll answer arrives 600 ms late, and the page can tell when one is on its way.
  const fetchNow = window.fetch.bind(window);
  window.pollsInFlight = 0;
  window.fetch = async (url, options) => {
    if (!String(url).includes("/ui/poll")) return fetchNow(url, options);
    window.pollsInFlight += 1;
    try {
      const answer = await fetchNow(url, options);
      await new Promise((resolve) => setTimeout(resolve, 600));
      return answer;
    } finally {
      window.pollsInFlight -= 1;
    }
  };
}"""


def test_switching_person_or_channel_while_a_poll_is_on_its_way_shows_the_new_choice(sandbox: Sandbox) -> None:
    sandbox.open(user="U0ALICE")
    mine = sandbox.page.locator('[data-testid="message"][data-ephemeral="true"]')
    sandbox.send("/incident help")
    expect(mine).to_have_count(1)
    sandbox.page.evaluate(SLOW_POLLS)

    # An answer for alice is on its way when bob takes over: it must not be drawn for him.
    sandbox.page.wait_for_function("() => window.pollsInFlight > 0")
    sandbox.page.get_by_test_id("user-switcher").select_option("U0BOB")
    expect(mine).to_have_count(0)
    expect(sandbox.page.get_by_test_id("user-switcher")).to_have_value("U0BOB")

    # The same for a channel picked while the answer for #incidents is on its way.
    sandbox.page.wait_for_function("() => window.pollsInFlight > 0")
    sandbox.page.get_by_test_id("channel-item").filter(has_text="general").click()
    expect(sandbox.page.get_by_test_id("channel-title")).to_have_text("#general")
    sandbox.page.wait_for_function("() => window.pollsInFlight > 0")  # a later answer, still for #general
    sandbox.page.wait_for_function("() => window.pollsInFlight === 0")
    expect(sandbox.page.get_by_test_id("channel-title")).to_have_text("#general")
    expect(sandbox.page.locator('[data-testid="channel-item"][aria-current="page"]')).to_have_text("#general")
