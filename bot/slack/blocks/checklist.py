"""The runbook checklist (one or more messages of steps with their buttons) and the step input modal."""

from datetime import datetime
from typing import Any

from bot.playbooks.tables import ACTIONABLE, StepRun, StepStatus
from bot.playbooks.views import StepView
from bot.slack.blocks.elements import button, modal
from bot.slack.escape import escape, mention, truncate
from bot.slack.ids import STEP_INPUT_FIELD, CallbackId, StepAction

# Two blocks a step plus a header and a context block: 20 steps stay well under Slack's 50.
STEPS_PER_PAGE = 20
STATUS_EMOJI = {
    StepStatus.PENDING: ":white_circle:",
    StepStatus.DONE: ":white_check_mark:",
    StepStatus.SKIPPED: ":fast_forward:",
    StepStatus.QUEUED: ":hourglass_flowing_sand:",
    StepStatus.RUNNING: ":gear:",
    StepStatus.FAILED: ":x:",
    StepStatus.FAILED_UNKNOWN: ":warning:",
}


def pages(steps: list[StepView]) -> list[list[StepView]]:
    return [steps[i : i + STEPS_PER_PAGE] for i in range(0, len(steps), STEPS_PER_PAGE)] or [[]]


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    return f" <!date^{int(at.timestamp())}^{{time}}|{at.strftime('%H:%M UTC')}>"


def _status_line(step: StepView) -> str:
    run = step.run
    status = StepStatus(run.status)
    if step.waiting and status in ACTIONABLE:
        return f":hourglass: waits for: {escape(', '.join(step.waiting))}"
    who = mention(run.actor) if run.actor else ""
    result = run.result or {}
    detail = ", ".join(
        part
        for part in (
            f"HTTP {result['status_code']}" if "status_code" in result else "",
            f"{result['duration_ms']} ms" if "duration_ms" in result else "",
        )
        if part
    )
    lines = {
        StepStatus.PENDING: "",
        StepStatus.DONE: f"Done by {who}{_when(run.finished_at)}" + (f" ({detail})" if detail else ""),
        StepStatus.SKIPPED: f"Skipped by {who}{_when(run.finished_at)}",
        StepStatus.QUEUED: f"Run requested by {who}",
        StepStatus.RUNNING: f"Running since{_when(run.started_at)}",
        StepStatus.FAILED: f"Failed: {escape(run.error or 'unknown error')}" + (f" ({detail})" if detail else ""),
        StepStatus.FAILED_UNKNOWN: f"Outcome unknown: {escape(run.error or '')}",
    }
    line = lines[status]
    if status is StepStatus.DONE and run.value:
        line += f" · {escape(run.value)}"
    return line


def _buttons(step: StepView) -> list[dict[str, Any]]:
    status = StepStatus(step.run.status)
    if status not in ACTIONABLE or step.waiting:
        return []
    value = str(step.run.id)
    skip = button("Skip", StepAction.SKIP, value)
    if step.kind == "run":
        failed = status in (StepStatus.FAILED, StepStatus.FAILED_UNKNOWN)
        run = button(
            "Retry" if failed else "Run", StepAction.RETRY if failed else StepAction.RUN, value, style="primary"
        )
        if step.confirm:
            run["confirm"] = {
                "title": {"type": "plain_text", "text": "Run this step?"},
                "text": {"type": "mrkdwn", "text": truncate(step.confirm, 300)},
                "confirm": {"type": "plain_text", "text": "Run"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            }
        return [run, skip]
    if step.kind == "input":
        label = truncate(f"Enter {step.input_label or 'value'}", 75)
        return [button(label, StepAction.INPUT, value, style="primary"), skip]
    done = button("Done", StepAction.DONE, value, style="primary")
    if step.kind == "link" and step.link:
        return [button("Open", StepAction.LINK, value, url=step.link), done, skip]
    return [done, skip]


def _step_blocks(number: int, step: StepView) -> list[dict[str, Any]]:
    emoji = STATUS_EMOJI[StepStatus(step.run.status)]
    parts = [f"{emoji} *{number}. {step.title}*"]
    if step.text:
        parts.append(step.text)
    if step.link and step.kind == "link":
        parts.append(f"<{step.link}|{escape(truncate(step.link, 80))}>")
    if step.problem:
        parts.append(f":warning: {escape(step.problem)}")
    status = _status_line(step)
    if status:
        parts.append(f"_{status}_" if not status.startswith(":") else status)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate("\n".join(parts), 3000)}}
    ]
    buttons = _buttons(step)
    if buttons:
        # A new block_id per version, so a stale click on an old rendering is recognisable.
        block_id = f"step_{step.run.id}_v{step.run.version}"
        blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
    return blocks


def checklist_blocks(
    title: str, page: list[StepView], *, first_number: int, page_no: int, pages: int
) -> list[dict[str, Any]]:
    done = sum(1 for s in page if s.run.status in (StepStatus.DONE, StepStatus.SKIPPED))
    heading = f"Runbook: {title}" + (f" ({page_no + 1}/{pages})" if pages > 1 else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(heading, 150)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{done} of {len(page)} steps done"}]},
    ]
    for offset, step in enumerate(page):
        blocks.extend(_step_blocks(first_number + offset, step))
    return blocks


def checklist_text(title: str) -> str:
    return escape(f"Runbook: {title}")


def input_modal(step: StepRun, spec: dict[str, Any], channel_id: str | None) -> dict[str, Any]:
    declared = spec.get("input") or {}
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": STEP_INPUT_FIELD, "max_length": 500}
    if declared.get("placeholder"):
        element["placeholder"] = {"type": "plain_text", "text": truncate(str(declared["placeholder"]), 150)}
    block: dict[str, Any] = {
        "type": "input",
        "block_id": STEP_INPUT_FIELD,
        "label": {"type": "plain_text", "text": truncate(str(declared.get("label") or "Value"), 2000)},
        "element": element,
    }
    if declared.get("hint"):
        block["hint"] = {"type": "plain_text", "text": truncate(str(declared["hint"]), 2000)}
    title = {"type": "section", "text": {"type": "mrkdwn", "text": escape(truncate(str(spec.get("title", "")), 2900))}}
    metadata = f"{step.id}:{channel_id or ''}"
    return modal(CallbackId.STEP_INPUT, "Runbook input", [title, block], submit="Save", metadata=metadata)
