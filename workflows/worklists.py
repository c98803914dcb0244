"""What needs a person now: their home page, and a lead's review queue.

Both read only through ``permissions`` selectors and count in the database. Each keeps a
fixed number of queries whatever the history holds (tests/test_worklists.py and
tests/test_lists_at_scale.py count them): the queue reads a page, the home page at most
HOME_ROWS of each list, and the reading of the lead's notes it shows is logged in one append.
Every list is read through an index in its own order (see the indexes of Share and
Notification), so a page reads a page of rows, not a setting's or a person's whole history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View
from django.views.generic import ListView
from django.views.generic.list import MultipleObjectMixin

from cases.choices import ShareStatus, Urgency
from cases.deadlines import time_left
from cases.models import Child, Decision, Membership, Organisation, Recipient, Share
from cases.people import signed_in
from permissions.audit import record_views
from permissions.lookups import access_basis
from permissions.models import AuditAction, AuditEntry
from permissions.roles import current_memberships
from permissions.selectors import (
    advice_asked_of,
    break_glass_grants_to_review,
    child_files_to_answer,
    family_follow_ups_for,
    file_requests_to_answer,
    reconsideration_requests_for,
    review_queue_for,
    settings_run_by,
    settings_where,
    share_list_for,
)

from .models import DECISION_NOTICE_KINDS, Notification

# How many rows of each list the home page shows; its count links to the whole list.
HOME_ROWS = 10


def end_of_today() -> datetime:
    """Midnight tonight, on the site's clock: what "due today" runs up to."""
    now = timezone.localtime()
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class QueueFilter(forms.Form):
    state = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[
            ("", "Everything awaiting a decision"),
            ("overdue", "Overdue"),
            ("due_today", "Due today"),
            ("retrospective", "Retrospective reviews of emergency releases"),
            ("first_review", "Submitted shares (not yet released)"),
        ],
    )
    urgency = forms.ChoiceField(
        label="Urgency", required=False, choices=[("", "Any urgency"), *Urgency.choices]
    )

    def narrow(self, shares: QuerySet[Share]) -> QuerySet[Share]:
        if not self.is_valid():
            return shares
        now = timezone.now()
        state = self.cleaned_data["state"]
        if state == "overdue":
            shares = shares.filter(review_due_at__lt=now)
        elif state == "due_today":
            shares = shares.filter(review_due_at__gte=now, review_due_at__lt=end_of_today())
        elif state == "retrospective":
            shares = shares.filter(status=ShareStatus.RELEASED_IN_EMERGENCY)
        elif state == "first_review":
            shares = shares.filter(status=ShareStatus.AWAITING_REVIEW)
        if self.cleaned_data["urgency"]:
            shares = shares.filter(urgency=self.cleaned_data["urgency"])
        return shares


class PagedByIds(MultipleObjectMixin):
    """A list paged through by its rows' ids alone, then that page's rows read in full.

    The ids are read in the list's order from its own index, whatever the page; the rows,
    with everything they join, only for the page shown. A deep page (the fortieth of a
    large setting's queue) then never lets the planner choose to join and sort the whole
    list to skip to it. One query more than plain paging, the same on every page.
    """

    def paginate_queryset(self, queryset: Any, page_size: int) -> tuple[Any, Any, Any, bool]:
        paginator, page, ids, is_paginated = super().paginate_queryset(
            queryset.values_list("pk", flat=True), page_size
        )
        ids = list(ids)
        rows = queryset.in_bulk(ids)
        # A row gone between the two reads (a review decided meanwhile) is left out.
        page.object_list = [rows[pk] for pk in ids if pk in rows]
        return paginator, page, page.object_list, is_paginated


@dataclass
class Returned:
    """A draft the lead sent back, with the decision that says why."""

    share: Share
    note: Decision


@dataclass
class QueueRow:
    share: Share
    time_left: str
    overdue: bool


class ReviewQueueView(PagedByIds, ListView):
    """Everything awaiting a decision in the settings the person decides for, overdue first,
    then by deadline; and the requests to reconsider a refusal."""

    template_name = "workflows/review_queue.html"
    context_object_name = "shares"
    paginate_by = 50

    def get_queryset(self) -> Any:
        self.filter_form = QueueFilter(self.request.GET or None)
        return self.filter_form.narrow(review_queue_for(self.request.user))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context["rows"] = [
            QueueRow(share, *time_left(share.review_due_at, now)) for share in context["shares"]
        ]
        context["filter_form"] = self.filter_form
        context["filtered"] = self.filter_form.is_bound
        context["reconsideration_requests"] = list(
            reconsideration_requests_for(self.request.user)[: self.paginate_by]
        )
        return context


def _latest_decision(field: str) -> Subquery:
    latest = Decision.objects.filter(share=OuterRef("pk")).order_by("-decided_at", "-pk")
    return Subquery(latest.values(field)[:1])


def _settings_setting_up(user: Any) -> list[Organisation]:
    """The settings this person leads that still lack staff, children or an address book: a
    new setting's lead is shown where to start. Existence checks, not counts: a large
    setting's home page must not count its whole roll."""
    mine = OuterRef("pk")
    return list(
        settings_run_by(user)
        .annotate(
            has_staff=Exists(
                Membership.objects.filter(organisation=mine, ended_at__isnull=True).exclude(
                    user=user
                )
            ),
            has_roll=Exists(Child.objects.filter(organisation=mine)),
            has_addresses=Exists(
                Recipient.objects.filter(organisation=mine, retired_at__isnull=True)
            ),
        )
        .filter(Q(has_staff=False) | Q(has_roll=False) | Q(has_addresses=False))
    )


class HomeView(View):
    """Where everyone lands after signing in: what needs them now, most urgent first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = signed_in(request)
        context: dict[str, Any] = {"decides": settings_where(user, "cases.decide_shares").exists()}
        if context["decides"]:
            context.update(self._lead_work(user))
        context["setting_up"] = _settings_setting_up(user)
        context["works_nowhere"] = not current_memberships(user).exists()
        context.update(self._own_work(user))
        return render(request, "workflows/home.html", context)

    def _lead_work(self, user: Any) -> dict[str, Any]:
        now, tonight = timezone.now(), end_of_today()
        queue = review_queue_for(user)
        counts = queue.aggregate(
            overdue=Count("pk", filter=Q(review_due_at__lt=now)),
            due_today=Count("pk", filter=Q(review_due_at__gte=now, review_due_at__lt=tonight)),
            retrospective=Count("pk", filter=Q(status=ShareStatus.RELEASED_IN_EMERGENCY)),
            oldest_due=Min("review_due_at"),
        )
        pressing = [
            QueueRow(share, *time_left(share.review_due_at, now))
            for share in queue.filter(review_due_at__lt=tonight)[:HOME_ROWS]
        ]
        oldest = counts["oldest_due"]
        return {
            "overdue_count": counts["overdue"],
            "oldest_overdue": time_left(oldest, now)[0] if counts["overdue"] else "",
            "due_today_count": counts["due_today"],
            "retrospective_count": counts["retrospective"],
            "pressing": pressing,
            "families_overdue": family_follow_ups_for(user).filter(due_at__lt=now).count(),
            "break_glass_unreviewed": break_glass_grants_to_review(user)
            .filter(reviewed_at__isnull=True)
            .count(),
            "reconsiderations": reconsideration_requests_for(user).count(),
            "files_to_answer": child_files_to_answer(user).count(),
            "file_requests": file_requests_to_answer(user).count(),
        }

    def _own_work(self, user: Any) -> dict[str, Any]:
        drafts = list(
            share_list_for(user)
            .filter(proposed_by=user, status=ShareStatus.DRAFT)
            .annotate(
                last_outcome=_latest_decision("outcome"), last_decision=_latest_decision("pk")
            )
            .order_by("-updated_at", "-pk")[: HOME_ROWS * 2]
        )
        returned = [share for share in drafts if share.last_outcome == "return"][:HOME_ROWS]
        notes = Decision.objects.select_related("decided_by", "share__case").in_bulk(
            [share.last_decision for share in returned]
        )
        returned_with_notes = [Returned(share, notes[share.last_decision]) for share in returned]
        # The lead's note is a decision's content: reading it here is a reading like any. One
        # append for the page, however many notes it shows (an entry per case, as the log
        # keeps who saw a case by case), one per basis of access (nearly always "case team").
        read_by_basis: dict[str, list[Decision]] = defaultdict(list)
        for read in returned_with_notes:
            read_by_basis[access_basis(user, read.share.case)].append(read.note)
        for basis, read_notes in read_by_basis.items():
            record_views(user, list(read_notes), basis)
        # A decision is "not yet seen" until its notice is opened or the share's page is read
        # after it came; only the newest per share (a return, then an approval: the approval).
        read_since = AuditEntry.objects.filter(
            actor=user,
            share=OuterRef("share"),
            action=AuditAction.VIEW_SHARE,
            at__gte=OuterRef("created_at"),
        )
        # Only shares the person may still see: one taken off the case (or gone from the
        # setting) is not told its outcome here. Asked of each notice by a scalar sub-query,
        # which PostgreSQL never turns into a join: the plan then walks the person's unread
        # decisions newest first (index notification_unread_decision) and stops once it has
        # enough, instead of starting from every share the person may see, as a join would
        # whenever the planner takes the person's shares and notices to be unrelated.
        visible_share = (
            share_list_for(user).filter(pk=OuterRef("share_id")).order_by().values("pk")[:1]
        )
        notices = (
            Notification.objects.filter(
                recipient=user, read_at__isnull=True, kind__in=DECISION_NOTICE_KINDS
            )
            .alias(visible_share=Subquery(visible_share))
            .filter(visible_share__isnull=False)
            .exclude(Exists(read_since))
            .select_related("actor")
            .order_by("-created_at", "-pk")[: HOME_ROWS * 2]
        )
        newest_per_share = {notice.share_id: notice for notice in reversed(list(notices))}
        unseen_decisions = sorted(
            newest_per_share.values(), key=lambda n: (n.created_at, n.pk), reverse=True
        )[:HOME_ROWS]
        # Everything else unread (escalations, alerts, advice): what the menu counts, named.
        unread = Notification.objects.filter(recipient=user, read_at__isnull=True).exclude(
            kind__in=DECISION_NOTICE_KINDS
        )
        return {
            "new_for_you": list(unread.order_by("-created_at", "-pk")[:HOME_ROWS]),
            "new_for_you_count": unread.count(),
            "returned": returned_with_notes,
            "drafts": [share for share in drafts if share.last_outcome != "return"][:HOME_ROWS],
            "unseen_decisions": unseen_decisions,
            "advice_awaiting": advice_asked_of(user).filter(answered_at__isnull=True).count(),
        }
