from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import ValidationError


class RuleViolation(ValidationError):
    """A golden rule or state rule refused the write; messages are keyed by field."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__({key: list(messages) for key, messages in errors.items()})


def raise_if(errors: Mapping[str, Sequence[str]]) -> None:
    if errors:
        raise RuleViolation(errors)


def refuse(field: str, message: str) -> RuleViolation:
    return RuleViolation({field: [message]})
