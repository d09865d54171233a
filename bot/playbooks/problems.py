"""What is wrong with a playbook file (`Problem`) and the errors playbook code raises."""

from dataclasses import dataclass
from enum import StrEnum

from bot.errors import InvalidInput, WarroomError


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding in one file; `line` is 1-based and points at the offending key."""

    file: str
    line: int
    message: str
    severity: Level = Level.ERROR

    def format(self) -> str:
        """`file:line: message`, with `warning: ` before the message of a warning (as compilers do)."""
        prefix = "warning: " if self.severity is Level.WARNING else ""
        return f"{self.file}:{self.line}: {prefix}{self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return {"file": self.file, "line": self.line, "severity": str(self.severity), "message": self.message}


class TemplateProblem(WarroomError):
    """A template could not be compiled or rendered; the message is one line, never a raw Jinja error.

    `line` is the 1-based line within the template when the problem is tied to one (syntax errors).
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class PlaybookInvalid(InvalidInput):
    """A playbook file has errors; `problems` lists every finding, the message the first error."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity is Level.ERROR] or problems
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(errors[0].format() + more if errors else "invalid playbook")
        self.problems = problems
