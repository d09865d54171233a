"""Block Kit action, block and callback ids: one closed set, shared by builders and listeners."""

from enum import StrEnum


class ActionId(StrEnum):
    ACKNOWLEDGE = "incident_acknowledge"
    MITIGATE = "incident_mitigate"
    RESOLVE = "incident_resolve"
    SEVERITY = "incident_severity"


class StepAction(StrEnum):
    """Runbook step buttons; each button's value is the step run's id."""

    DONE = "step_done"
    SKIP = "step_skip"
    RUN = "step_run"
    RETRY = "step_retry"
    INPUT = "step_input"  # opens the input modal
    LINK = "step_link"  # a link button; Slack still sends the click, which needs an ack


class CallbackId(StrEnum):
    DECLARE = "incident_declare"
    STEP_INPUT = "step_input"


STEP_INPUT_FIELD = "step_input_value"


class DeclareField(StrEnum):
    """block_id and action_id of each input in the declare modal."""

    TITLE = "declare_title"
    SEVERITY = "declare_severity"
    SERVICE = "declare_service"


class PostmortemAction(StrEnum):
    """Buttons on the postmortem summary; each value is the postmortem's id."""

    OPEN = "postmortem_open"  # a link button to the web page (Slack still sends the click)
    EDIT = "postmortem_edit"
    APPROVE = "postmortem_approve"
    REQUEST_CHANGES = "postmortem_request_changes"
    REGENERATE = "postmortem_regenerate"


class PostmortemView(StrEnum):
    EDIT = "postmortem_edit_modal"
    REQUEST_CHANGES = "postmortem_changes_modal"
    WHYS = "postmortem_whys_modal"  # asked on resolve


CHANGES_FIELD = "postmortem_changes_reason"
