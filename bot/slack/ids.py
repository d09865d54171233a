"""Block Kit action, block and callback ids: one closed set, shared by builders and listeners."""

from enum import StrEnum


class ActionId(StrEnum):
    ACKNOWLEDGE = "incident_acknowledge"
    MITIGATE = "incident_mitigate"
    RESOLVE = "incident_resolve"
    SEVERITY = "incident_severity"


class CallbackId(StrEnum):
    DECLARE = "incident_declare"


class DeclareField(StrEnum):
    """block_id and action_id of each input in the declare modal."""

    TITLE = "declare_title"
    SEVERITY = "declare_severity"
    SERVICE = "declare_service"
