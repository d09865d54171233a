"""Warroom's exception tree; every message is safe to show to the person who caused it.

    WarroomError
    ├── InvalidInput        bad request body, command arguments or form values (HTTP 400)
    ├── Unauthorized        missing or wrong signature or token (HTTP 401)
    ├── PayloadTooLarge     body over the size limit (HTTP 413)
    ├── NotFound            no such incident (or not an incident channel)
    └── InvalidTransition   the incident cannot move that way (already resolved, ...)

Adapters wrap library errors (SlackApiError, httpx.HTTPError) so they never reach the domain.
"""


class WarroomError(Exception):
    """Base class; `str(error)` is the user-facing message."""


class InvalidInput(WarroomError):
    pass


class Unauthorized(WarroomError):
    pass


class PayloadTooLarge(WarroomError):
    pass


class NotFound(WarroomError):
    pass


class InvalidTransition(WarroomError):
    pass
