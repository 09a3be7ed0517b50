"""Turning pydantic validation errors into one clear line per bad field."""

from __future__ import annotations

from pydantic import ValidationError


class InvalidInputError(ValueError):
    """Raised at a boundary when input breaks a rule; the message names the field and the rule."""


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> str:
    """One line per problem: `field.path: message (got: value)`."""
    lines = []
    for problem in error.errors(include_url=False):
        location = ".".join(str(part) for part in problem["loc"]) or "(document)"
        if prefix:
            location = f"{prefix}.{location}"
        message = problem["msg"].removeprefix("Value error, ")
        received = problem.get("input")
        shown = "" if isinstance(received, dict | list) or received is None else f" (got: {received!r})"
        lines.append(f"{location}: {message}{shown}")
    return "; ".join(lines)
