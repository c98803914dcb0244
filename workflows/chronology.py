"""A child's chronology in one setting: everything recorded about them, in the order it happened.

Each source (shares and their versions, decisions, releases, advice, escalations, the
family, break-glass access) gives its rows from one query, so the page costs the same
however long the record grows. A row keeps when it happened and, where that differs, when
it was recorded: a release sent yesterday may be recorded today, a family told last week
may be written down only now, and the chronology follows what happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Model
from django.utils import timezone
from django.utils.dateformat import format as format_date

from cases.choices import FamilyInformed
from cases.models import Case, Consultation, Decision, FamilyFollowUp, Release, Share, ShareVersion
from cases.people import AUTOMATIC, display_name
from permissions.models import AuditAction, AuditEntry, BreakGlassGrant

from .models import Escalation

# Times sent or told are typed to the minute; closer than this, "recorded" adds nothing.
_SAME_MOMENT = timedelta(minutes=1)


@dataclass(frozen=True)
class Row:
    """One thing that happened: when (a moment, or only a day), what, who, and any detail."""

    happened: datetime | date
    what: str
    who: str = ""
    detail: str = ""
    recorded: datetime | None = None
    share_id: int | None = None

    @property
    def on_a_day(self) -> bool:
        """Known only to the day (the family told on a date, a request made on a date)."""
        return not isinstance(self.happened, datetime)

    @property
    def recorded_later(self) -> bool:
        if self.recorded is None:
            return False
        if isinstance(self.happened, datetime):
            return abs(self.recorded - self.happened) >= _SAME_MOMENT
        return timezone.localdate(self.recorded) != self.happened


@dataclass
class Chronology:
    case: Case
    rows: list[Row]
    # What the page shows, for the access log.
    shown: list[Model] = field(default_factory=list)


def _when(moment: datetime) -> str:
    return format_date(timezone.localtime(moment), "j M Y H:i")


def _share_rows(shares: list[Share], versions: list[ShareVersion]) -> Iterator[Row]:
    versioned = {version.share_id for version in versions}
    for share in shares:
        if share.requested_on:
            yield Row(
                share.requested_on,
                f"Request for information from {share.requested_by or 'another agency'}",
                detail=f"Answered by share #{share.pk}",
                recorded=share.created_at,
                share_id=share.pk,
            )
        yield Row(
            share.created_at,
            f"Share #{share.pk} proposed ({share.get_direction_display().lower()})",
            display_name(share.proposed_by),
            share.purpose,
            share_id=share.pk,
        )
        if share.submitted_at and share.pk not in versioned:
            yield Row(
                share.submitted_at,
                f"Share #{share.pk} submitted for lead review",
                display_name(share.proposed_by),
                share_id=share.pk,
            )
    for version in versions:
        corrects = f", correcting version {version.number - 1}" if version.corrects_id else ""
        yield Row(
            version.submitted_at,
            f"Share #{version.share_id} submitted for lead review (version {version.number}"
            f"{corrects})",
            display_name(version.submitted_by),
            share_id=version.share_id,
        )


def _withdrawal_rows(entries: Iterable[AuditEntry], shares: dict[int, Share]) -> Iterator[Row]:
    for entry in entries:
        share = shares.get(entry.share_id) if entry.share_id else None
        yield Row(
            entry.at,
            f"Share #{entry.share_id} withdrawn",
            display_name(entry.actor),
            share.withdrawn_reason if share else "",
            share_id=entry.share_id,
        )


def _decision_rows(decisions: Iterable[Decision]) -> Iterator[Row]:
    for decision in decisions:
        what = f"Share #{decision.share_id}: {decision.get_outcome_display()}"
        if decision.reconsiders is not None:
            what += f", reconsidering the decision of {_when(decision.reconsiders.decided_at)}"
        reason = f"{decision.get_refusal_reason_display()}. " if decision.refusal_reason else ""
        yield Row(
            decision.decided_at,
            what,
            f"{display_name(decision.decided_by)} ({decision.get_capacity_display()})",
            reason + decision.reasons,
            share_id=decision.share_id,
        )


def _release_rows(releases: Iterable[Release]) -> Iterator[Row]:
    for release in releases:
        how = "in an emergency, before any decision, " if release.decision_id is None else ""
        yield Row(
            release.sent_at,
            f"Share #{release.share_id} released {how}to {release.recipient_name}, "
            f"{release.recipient_agency}",
            display_name(release.released_by),
            f"By {release.get_sending_method_display().lower()}",
            recorded=release.recorded_at,
            share_id=release.share_id,
        )


def _advice_rows(consultations: Iterable[Consultation]) -> Iterator[Row]:
    for asked in consultations:
        adviser = f"{display_name(asked.adviser)} ({asked.get_adviser_capacity_display().lower()})"
        yield Row(
            asked.asked_at,
            f"Advice asked on share #{asked.share_id}, without naming the child",
            display_name(asked.asked_by),
            f"Of {adviser}: {asked.question}",
            share_id=asked.share_id,
        )
        if asked.answered_at:
            yield Row(
                asked.answered_at,
                f"Advice given on share #{asked.share_id}",
                adviser,
                asked.advice,
                share_id=asked.share_id,
            )


def _escalation_rows(escalations: Iterable[Escalation]) -> Iterator[Row]:
    for escalation in escalations:
        yield Row(
            escalation.at,
            f"Share #{escalation.share_id} review: {escalation.get_level_display().lower()}",
            AUTOMATIC,
            share_id=escalation.share_id,
        )


def _family_rows(shares: list[Share], follow_ups: Iterable[FamilyFollowUp]) -> Iterator[Row]:
    # What the share says about the family counts from when it was put forward.
    for share in shares:
        if not share.submitted_at:
            continue
        if share.family_informed == FamilyInformed.TOLD:
            yield Row(
                share.family_informed_on or share.submitted_at,
                f"Family told about share #{share.pk}",
                share.family_informed_by,
                recorded=share.submitted_at,
                share_id=share.pk,
            )
        elif share.family_informed == FamilyInformed.NOT_TOLD:
            reason = share.get_family_not_told_reason_display()
            yield Row(
                share.submitted_at,
                f"Family not told about share #{share.pk}",
                display_name(share.proposed_by),
                f"{reason}. {share.family_not_told_detail}".strip(),
                share_id=share.pk,
            )
    now = timezone.now()
    for follow_up in follow_ups:
        overdue = " (overdue)" if follow_up.is_open and follow_up.due_at < now else ""
        yield Row(
            follow_up.created_at,
            f"Follow-up set: tell the family about share #{follow_up.share_id} by "
            f"{_when(follow_up.due_at)}{overdue}",
            AUTOMATIC,
            share_id=follow_up.share_id,
        )
        if follow_up.informed_on:
            yield Row(
                follow_up.informed_on,
                f"Family told about share #{follow_up.share_id}",
                follow_up.informed_by,
                f"Recorded by {display_name(follow_up.recorded_by)}",
                recorded=follow_up.recorded_at,
                share_id=follow_up.share_id,
            )


def _break_glass_rows(grants: Iterable[BreakGlassGrant]) -> Iterator[Row]:
    for grant in grants:
        hours = round((grant.expires_at - grant.granted_at) / timedelta(hours=1))
        yield Row(
            grant.granted_at,
            f"Break-glass access taken for {hours} hours",
            display_name(grant.user),
            grant.reason,
        )
        if grant.ended_at:
            yield Row(grant.ended_at, "Break-glass access ended early", display_name(grant.user))
        if grant.reviewed_at:
            yield Row(
                grant.reviewed_at, "Break-glass access reviewed", display_name(grant.reviewed_by)
            )


def _moment(row: Row, zone: ZoneInfo) -> datetime:
    """Where a row falls in time; a day-only event counts from that day's start."""
    if isinstance(row.happened, datetime):
        return row.happened
    return datetime.combine(row.happened, time.min, tzinfo=zone)


def chronology_of(case: Case, *, access: bool = True) -> Chronology:
    """Everything recorded about the case's child in its setting, ordered by when it happened.

    ``access=False`` leaves out who took break-glass access to the case: the setting's own
    control of its staff, not part of the child's record that moves with them."""
    on_case = {"share__case": case}
    shares = list(
        Share.objects.filter(case=case).select_related("case", "proposed_by").order_by("pk")
    )
    versions = list(
        ShareVersion.objects.filter(**on_case).select_related("submitted_by").order_by("pk")
    )
    decisions = list(
        Decision.objects.filter(**on_case)
        .select_related("share__case", "decided_by", "reconsiders")
        .order_by("pk")
    )
    releases = list(Release.objects.filter(**on_case).select_related("share__case", "released_by"))
    consultations = list(
        Consultation.objects.filter(**on_case)
        .select_related("share__case", "asked_by", "adviser")
        .order_by("pk")
    )
    escalations = Escalation.objects.filter(**on_case).order_by("pk")
    follow_ups = FamilyFollowUp.objects.filter(**on_case).select_related("recorded_by")
    grants = BreakGlassGrant.objects.filter(case=case).select_related("user", "reviewed_by")
    withdrawals = AuditEntry.objects.filter(
        case=case, action=AuditAction.SHARE_WITHDRAWN
    ).select_related("actor")

    rows = [
        *_share_rows(shares, versions),
        *_withdrawal_rows(withdrawals, {share.pk: share for share in shares}),
        *_decision_rows(decisions),
        *_release_rows(releases),
        *_advice_rows(consultations),
        *_escalation_rows(escalations),
        *_family_rows(shares, follow_ups.order_by("pk")),
        *(_break_glass_rows(grants.order_by("pk")) if access else ()),
    ]
    zone = ZoneInfo(case.organisation.timezone)
    # A stable sort: rows of the same moment keep the order in which they were built.
    rows.sort(key=lambda row: _moment(row, zone))
    return Chronology(case=case, rows=rows, shown=[*shares, *decisions, *releases, *consultations])
