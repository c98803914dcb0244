"""Telling a setting's leads and deputies that break-glass access was used.

``permissions`` may not import ``workflows``, so break_glass_take sends
``permissions.signals.break_glass_taken`` inside its transaction and this module answers it
(connected in ``WorkflowsConfig.ready``): one outbox notification per current lead and
deputy (not the person who took it), shown in their Notifications and emailed once after
commit by the worker. No child and no case are named: a kind, who, and the review page.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from cases.choices import DECIDING_ROLES
from permissions.models import BreakGlassGrant
from permissions.selectors import people_to_alert

from ..models import NotificationKind
from .outbox import notify


def alert_leads_to_break_glass(sender: Any, grant: BreakGlassGrant, **kwargs: Any) -> None:
    notify(
        people_to_alert(grant.case.organisation, set(DECIDING_ROLES)),
        NotificationKind.BREAK_GLASS,
        event=f"break_glass:{grant.pk}",
        link=reverse("safeguarding:break_glass_review"),
        actor=grant.user,
        break_glass_grant=grant,
    )
