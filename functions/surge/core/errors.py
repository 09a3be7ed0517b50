"""Turning pydantic validation errors into one clear line per bad field, with the allowed range."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

BOUND_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


class InvalidInputError(ValueError):
    """Raised at a boundary when input breaks a rule; the message names the field and the rule."""


def describe_validation_error(error: ValidationError, *, prefix: str = "", model: type[BaseModel] | None = None) -> str:
    """One line per problem: `field.path: message (got: value)`, plus `allowed: ...` for a bound when the
    model is given (the whole range, not only the bound that was broken)."""
    lines = []
    for problem in error.errors(include_url=False):
        location = ".".join(str(part) for part in problem["loc"]) or "(document)"
        if prefix:
            location = f"{prefix}.{location}"
        message = problem["msg"].removeprefix("Value error, ")
        received = problem.get("input")
        shown = _shown(received)
        allowed = ""
        if model is not None and problem["type"] in BOUND_ERRORS:
            info = field_info(model, problem["loc"])
            text = range_text(info) if info is not None else None
            allowed = f"; allowed: {text}" if text else ""
        lines.append(f"{location}: {message}{shown}{allowed}")
    return "; ".join(lines)


def _shown(received: Any) -> str:
    if isinstance(received, dict | list) or received is None:
        return ""
    if isinstance(received, datetime):
        return f" (got: {received.isoformat()})"
    return f" (got: {received!r})"


def field_info(model: type[BaseModel], location: Sequence[int | str]) -> FieldInfo | None:
    """The FieldInfo at a validation error's location, following nested models and lists."""
    current: Any = model
    info: FieldInfo | None = None
    for part in location:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return info


def _inner_model(annotation: Any) -> Any:
    """The model inside `Model`, `Model | None` or `list[Model]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found = _inner_model(argument)
            if found is not None:
                return found
    return None


def range_text(info: FieldInfo) -> str | None:
    """`0 < value <= 1` from a field's gt/ge/lt/le constraints."""
    lower = upper = ""
    for constraint in info.metadata:
        if getattr(constraint, "gt", None) is not None:
            lower = f"{constraint.gt} < "
        if getattr(constraint, "ge", None) is not None:
            lower = f"{constraint.ge} <= "
        if getattr(constraint, "lt", None) is not None:
            upper = f" < {constraint.lt}"
        if getattr(constraint, "le", None) is not None:
            upper = f" <= {constraint.le}"
    if not (lower or upper):
        return None
    return f"{lower}value{upper}"
