from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model


class RuleViolation(ValidationError):
    """A golden rule or state rule refused the write; messages are keyed by field."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__({key: list(messages) for key, messages in errors.items()})


def raise_if(errors: Mapping[str, Sequence[str]]) -> None:
    if errors:
        raise RuleViolation(errors)


def refuse(field: str, message: str) -> RuleViolation:
    return RuleViolation({field: [message]})


def length_problems(model: type[Model], fields: Mapping[str, object]) -> dict[str, list[str]]:
    """Text longer than its column holds, keyed by field: a form limits what is typed, but an
    import or another caller may not, and the database would refuse it with an error."""
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        try:
            limit = getattr(model._meta.get_field(name), "max_length", None)
        except FieldDoesNotExist:
            continue
        if limit and isinstance(value, str) and len(value) > limit:
            errors[name] = [f"At most {limit} characters (this has {len(value)})."]
    return errors
