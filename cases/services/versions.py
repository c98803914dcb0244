"""Freezing a share as it was put forward, so a later correction never rewrites it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models

from cases.people import Person

from ..models import Share, ShareItem, ShareVersion


def _plain(share: Share, field: models.Field) -> Any:
    value = getattr(share, field.attname)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _snapshot(share: Share, items: list[ShareItem]) -> dict[str, Any]:
    from .shares import ITEM_FIELDS, SHARE_FIELDS  # shares imports this module

    fields = {}
    for name in SHARE_FIELDS:
        field = Share._meta.get_field(name)
        assert isinstance(field, models.Field)
        fields[name] = _plain(share, field)
        if field.choices:
            fields[f"{name}_label"] = getattr(share, f"get_{name}_display")()
    fields["recipient"] = str(share.recipient) if share.recipient else ""
    fields["statutory_gateway_labels"] = share.statutory_gateway_labels
    return {
        "fields": fields,
        "items": [
            {
                "id": item.pk,
                **{name: getattr(item, name) for name in ITEM_FIELDS},
                # As the law sees it, for an item saved before its category was made to count.
                "is_special_category": item.counts_as_special_category,
            }
            for item in items
        ],
    }


def version_freeze(
    share: Share, user: Person, at: datetime, items: list[ShareItem] | None = None
) -> ShareVersion:
    """Keep the share as submitted; a resubmission after a return is the next version.

    ``items``: the share's items in order (position, pk), as the caller read them in this
    transaction under the share's lock; read here when not given.
    """
    previous = share.versions.order_by("-number").first()
    if items is None:
        items = list(share.items.order_by("position", "pk"))
    return ShareVersion.objects.create(
        share=share,
        number=previous.number + 1 if previous else 1,
        corrects=previous,
        content=_snapshot(share, items),
        submitted_by=user,
        submitted_at=at,
    )
