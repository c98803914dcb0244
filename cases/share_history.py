"""What the share page shows of the share's past: its events, its versions, and the family."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from permissions.roles import UserLike
from permissions.selectors import share_history_for

from .choices import Role
from .models import Share

_AUTOMATIC = "Automatic step"


def share_history_context(user: UserLike, share: Share) -> dict[str, Any]:
    """Every event with the role it was done in, the versions submitted, the follow-ups."""
    roles = {**dict(Role.choices), "system": _AUTOMATIC}
    return {
        "history": [
            (entry, roles.get(entry.basis, entry.basis)) for entry in share_history_for(user, share)
        ],
        "versions": share.versions.select_related("submitted_by", "corrects"),
        "follow_ups": share.family_follow_ups.select_related("recorded_by"),
        "now": timezone.now(),
    }
