"""Import problems: where (file, line, field), what kind of value was found and why it is wrong.

Invariant: a ``Problem`` never carries a value read from a file; messages describe the value
(``"text of 7 characters"``, ``"4 digits"``) instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported."""

    file: str
    line: int | None
    field: str | None
    problem: str

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f" line {self.line}"
        if self.field is not None:
            place += f", field {self.field!r}"
        return f"{place}: {self.problem}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ImportRejected(ValueError):
    """The import stored nothing; ``problems`` says every place that was wrong (capped)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "rejected"
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(first + more)
