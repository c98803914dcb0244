"""Get-or-404 helpers: the only way a view fetches a case or share for a person.

Someone who may not see a record gets "not found", never a hint that it exists. Someone
who may see it but not do what they asked gets "forbidden". Every record shown is logged.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404
from django.shortcuts import get_object_or_404

from cases.models import (
    Case,
    Child,
    Consultation,
    FileRequest,
    FileTransfer,
    Membership,
    Recipient,
    RegisterImport,
    SettingClosure,
    Share,
)

from .access import access_for
from .audit import record_child_viewed, record_views
from .roles import UserLike, role_in
from .rules import can_see_file, can_see_file_request
from .selectors import (
    address_book_for,
    advice_asked_of,
    case_list_for,
    children_register_for,
    imports_for,
    settings_run_by,
    settings_where,
    share_list_for,
    staff_of_settings_run_by,
)


def get_case_for(user: UserLike, pk: int) -> Case:
    return get_object_or_404(case_list_for(user), pk=pk)


def get_share_for(user: UserLike, pk: int) -> Share:
    return get_object_or_404(share_list_for(user), pk=pk)


def get_child_for_register(user: UserLike, pk: int) -> Child:
    """A child of a roll this person keeps; anyone else finds nothing."""
    return get_object_or_404(children_register_for(user).select_related("organisation"), pk=pk)


def get_recipient_for_register(user: UserLike, pk: int) -> Recipient:
    return get_object_or_404(address_book_for(user).select_related("organisation"), pk=pk)


def get_membership_for_lead(user: UserLike, pk: int) -> Membership:
    """A membership (current or ended) of a setting this person leads."""
    return get_object_or_404(
        staff_of_settings_run_by(user).select_related("organisation", "user"), pk=pk
    )


def get_closure_for_lead(user: UserLike, pk: int) -> SettingClosure:
    """A closure (term dates) of a setting this person leads. Someone who leads no setting is
    refused (403), as on the setting's own pages; a lead of other settings does not find it."""
    led = settings_run_by(user)
    if not led.exists():
        raise PermissionDenied
    return get_object_or_404(
        SettingClosure.objects.filter(organisation__in=led).select_related("organisation"), pk=pk
    )


def get_consultation_for_adviser(user: UserLike, pk: int) -> Consultation:
    """A question put to this person. Nobody else finds it, not even the case's own lead:
    it is the adviser's to answer, and the share itself is on the share page."""
    return get_object_or_404(advice_asked_of(user), pk=pk)


def get_import_for(user: UserLike, pk: int) -> RegisterImport:
    """An upload of this person's, into a setting where they may still import its kind."""
    return get_object_or_404(imports_for(user).select_related("organisation"), pk=pk)


def note_read_by_adviser(user: UserLike, consultation: Consultation) -> None:
    """The adviser read a question: logged, though they see no child and have no access to
    the case."""
    record_views(user, [consultation], "asked for advice")


def get_share_to_act_on(
    user: UserLike, pk: int, may_act: Callable[[UserLike, Share], bool]
) -> Share:
    share = get_share_for(user, pk)
    if not may_act(user, share):
        raise PermissionDenied
    return share


def access_basis(user: UserLike, case: Case) -> str:
    """Under which role or grant the user sees this case, as the access log records it."""
    access = access_for(user)
    if access.holds("cases.oversee_cases", case.organisation_id):
        return f"{role_in(user, case.organisation)} of the setting"
    if case.pk in access.team_cases:
        return "case team"
    live = access.break_glass_cases().get(case.pk)
    # Callers have already been let in by the selectors, so the last case always matches;
    # the fallback would make a gap between the two visible in the log.
    return f"break-glass grant #{live}" if live else "no current access"


def note_child_viewed(user: UserLike, child: Child) -> None:
    """Record in the access log that the user opened a child's record on the roll."""
    record_child_viewed(user, child)


def note_viewed(user: UserLike, case: Case, *records: Model) -> None:
    """Record in the access log that the user saw these records of one case."""
    record_views(user, list(records), access_basis(user, case))


def find_case_for_break_glass(user: UserLike, reference: str) -> Case | None:
    """An open case of a setting where the user may break glass, by its exact reference."""
    return (
        Case.objects.filter(
            organisation__in=settings_where(user, "cases.break_glass"),
            reference=reference.strip(),
            closed_at__isnull=True,
        )
        .select_related("organisation")
        .first()
    )


def get_child_file_for(user: UserLike, pk: int) -> FileTransfer:
    """A child protection file, for someone who may see it; to anyone else it does not exist."""
    transfer = get_object_or_404(
        FileTransfer.objects.select_related(
            "child", "from_setting", "to_setting", "to_lead", "sent_by", "case__organisation"
        ),
        pk=pk,
    )
    if not can_see_file(user, transfer):
        raise Http404("No such file.")
    return transfer


def get_file_request_for(user: UserLike, pk: int) -> FileRequest:
    """A request for a child's file, for the two settings' leads and deputies; to anyone
    else it does not exist."""
    request = get_object_or_404(
        FileRequest.objects.select_related("asked_of", "asked_for", "asked_by", "answered_by"),
        pk=pk,
    )
    if not can_see_file_request(user, request):
        raise Http404("No such request.")
    return request
