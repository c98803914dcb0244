"""Querysets already narrowed to what a person may see. Every list in the product uses these.

Need to know: a practitioner sees a child only while on the case team (or under a live
break-glass grant); leads and deputies see every case of their setting; nobody sees another
setting; managers and auditors see no case content unless granted. Access comes from
guardian object permissions (see ``grants``), always intersected with the person's current
memberships, so an ended membership closes every door at once.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from cases.choices import Role, ShareStatus
from cases.models import (
    AWAITING_ANSWER,
    ONE_PERSON_SETTING_KINDS,
    Case,
    Child,
    Consultation,
    FamilyFollowUp,
    FileRequest,
    FileTransfer,
    Membership,
    Organisation,
    Recipient,
    ReconsiderationRequest,
    RegisterImport,
    RegisterImportKind,
    Share,
)

from .access import access_for
from .models import EVENT_ACTIONS, AuditAction, AuditEntry, BreakGlassGrant
from .roles import UserLike, organisations_where


def granted(user: UserLike, permission: str, klass: type[models.Model]) -> QuerySet:
    """Objects on which the user holds this object permission, and only those.

    Model-wide and superuser shortcuts are switched off: need-to-know has no master key.
    """
    return get_objects_for_user(
        user,
        permission,
        klass=klass,
        use_groups=False,
        with_superuser=False,
        accept_global_perms=False,
    )


def _current_organisations(user: UserLike) -> list[int]:
    return organisations_where(user, set(Role.values))


def settings_where(user: UserLike, permission: str) -> QuerySet[Organisation]:
    """The person's current settings that grant them this permission.

    Filtered by the settings' ids, read once per request (``access``): every list below
    filters by setting first, on an indexed column, whatever the planner thinks of the
    permission tables' statistics.
    """
    if not user.is_authenticated:
        return Organisation.objects.none()
    return Organisation.objects.filter(pk__in=access_for(user).settings_where(permission))


def setting_ids_where(user: UserLike, permission: str) -> list[int]:
    """Ids of the person's current settings that grant them this permission."""
    if not user.is_authenticated:
        return []
    return access_for(user).settings_where(permission)


def _visible_case(user: UserLike, to_case: str = "", *, setting: str = "") -> Q:
    """The condition for a case the user may see (``to_case``: the path to it, e.g. "case__";
    ``setting``: a column holding the case's setting, where the rows carry one of their own).

    Ids read once per request (``access``): the settings they oversee, the cases they are on
    the team of, those open to them under live break glass; always within their current
    settings.
    """
    access = access_for(user)
    pk = f"{to_case}pk" if to_case else "pk"
    organisation = setting or f"{to_case}organisation_id"
    return Q(
        Q(**{f"{organisation}__in": access.settings_where("cases.oversee_cases")})
        | Q(**{f"{pk}__in": sorted(access.team_cases)})
        | Q(
            **{
                f"{pk}__in": sorted(access.break_glass_cases()),
                f"{to_case}closed_at__isnull": True,
            }
        ),
        **{f"{organisation}__in": _current_organisations(user)},
    )


def case_list_for(user: UserLike) -> QuerySet[Case]:
    if not user.is_authenticated:
        return Case.objects.none()
    return Case.objects.filter(_visible_case(user)).select_related("child", "organisation")


def share_list_for(user: UserLike) -> QuerySet[Share]:
    """Shares of the cases the user may see.

    Proposing a share gives no access of its own: a share names the child, so its proposer
    sees it only while they may see the case (on the team, or under live break glass).
    """
    if not user.is_authenticated:
        return Share.objects.none()
    # By the share's own copy of its setting: a list of a setting's shares then filters and
    # orders on the share's indexes, joining no case to find its setting.
    visible = _visible_case(user, "case__", setting="case_setting_id")
    return Share.objects.filter(visible).select_related(
        "case__child", "case__organisation", "proposed_by", "recipient"
    )


def _proposed_by_them(user: UserLike, to_share: str = "") -> Q:
    """Shares the person proposed, which another decides (``rules.may_decide_this``), outside
    a one-person setting."""
    return Q(**{f"{to_share}proposed_by": user}) & ~Q(
        **{f"{to_share}case_setting__kind__in": ONE_PERSON_SETTING_KINDS}
    )


def review_queue_for(user: UserLike) -> QuerySet[Share]:
    """Shares awaiting review in the settings where the user decides: the overdue first (the
    longest overdue at the top), then by deadline, the most urgent first among those due
    together. A share the person proposed is another's to decide, except in a one-person
    setting (``rules.may_decide_this``).

    Filtered and ordered on the share's own columns, in the order of its ``share_review_queue``
    index (setting, deadline, urgency's rank, submission, id; only open reviews): a page of
    the queue of one setting reads a page of that index, its counts that setting's open
    reviews alone.
    """
    if not user.is_authenticated:
        return Share.objects.none()
    return (
        Share.objects.filter(
            status__in=(ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY),
            case_setting_id__in=setting_ids_where(user, "cases.decide_shares"),
        )
        .exclude(_proposed_by_them(user))
        .select_related("case__child", "case__organisation", "proposed_by")
        .order_by(
            models.F("review_due_at").asc(nulls_last=True), "urgency_rank", "submitted_at", "pk"
        )
    )


def reconsideration_requests_for(user: UserLike) -> QuerySet[ReconsiderationRequest]:
    """Requests to look again at a refusal, not yet answered, in the settings the user decides
    for; the longest waiting first. A request is answered by the reconsideration itself."""
    if not user.is_authenticated:
        return ReconsiderationRequest.objects.none()
    return (
        ReconsiderationRequest.objects.unanswered()
        .filter(
            share__case_setting_id__in=setting_ids_where(user, "cases.decide_shares"),
            share__status=ShareStatus.REFUSED,
        )
        .exclude(_proposed_by_them(user, "share__"))
        .select_related("share__case__child", "share__case__organisation", "requested_by")
        .order_by("requested_at", "pk")
    )


def recipient_choices_for(
    user: UserLike, case: Case, *, keeping: Recipient | None = None
) -> QuerySet[Recipient]:
    """Recipients in the address book of the case's own setting, but those retired; a draft
    keeps the one it names even once retired (``keeping``), so saving it loses nothing and
    submitting it says why another must be chosen."""
    current = Q(retired_at__isnull=True)
    if keeping is not None:
        current |= Q(pk=keeping.pk)
    return Recipient.objects.filter(current, organisation_id=case.organisation_id)


def audit_log_for(user: UserLike) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        organisation_id__in=setting_ids_where(user, "cases.view_audit_log")
    ).select_related("actor", "subject", "case", "organisation")


def break_glass_grants_to_review(user: UserLike) -> QuerySet[BreakGlassGrant]:
    return BreakGlassGrant.objects.filter(
        case__organisation_id__in=setting_ids_where(user, "cases.oversee_cases")
    ).select_related("user", "case__child", "reviewed_by")


def case_viewers_for(user: UserLike, case: Case) -> QuerySet[AuditEntry]:
    """Who has looked at this case and its records, newest first: for its setting's leads."""
    return (
        audit_log_for(user)
        .filter(Q(action__startswith="view_") | Q(action=AuditAction.FILE_VIEWED), case=case)
        .order_by("-at", "-pk")
    )


def practitioners_to_add(user: UserLike, case: Case) -> QuerySet:
    """Practitioners of the case's setting not yet on its team: for the setting's leads."""
    from django.contrib.auth import get_user_model

    if case.organisation_id not in setting_ids_where(user, "cases.oversee_cases"):
        return get_user_model().objects.none()
    return (
        get_user_model()
        .objects.filter(
            memberships__organisation=case.organisation_id,
            memberships__role=Role.PRACTITIONER,
            memberships__ended_at__isnull=True,
        )
        .exclude(case_teams=case)
        .order_by("first_name", "last_name", "username")
    )


def people_to_alert(organisation: Organisation, roles: set[str]) -> QuerySet:
    """Current members of a setting in these roles: who an alert about it may go to."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(
            memberships__organisation=organisation,
            memberships__role__in=roles,
            memberships__ended_at__isnull=True,
            is_active=True,
        )
        .distinct()
    )


def report_settings_for(user: UserLike) -> QuerySet[Organisation]:
    """Settings whose timing reports the user may read (leads, deputies, managers, auditors).

    Reports carry figures and references only, so this is the whole door: no case access is
    needed, and none is given.
    """
    return settings_where(user, "cases.view_reports").order_by("name")


def advisers_for(user: UserLike, share: Share) -> QuerySet:
    """Who may be asked for advice on this share: every current member of its setting but the
    one asking, each with their role there (``role_here``) so the asker knows whom they ask."""
    from django.contrib.auth import get_user_model

    role_here = Membership.objects.filter(
        user=models.OuterRef("pk"), organisation=share.case.organisation_id, ended_at__isnull=True
    ).values("role")[:1]
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(pk__in=[user.pk, share.proposed_by_id])
        .annotate(role_here=models.Subquery(role_here))
        .filter(role_here__isnull=False)
        .order_by("first_name", "last_name", "username")
    )


def advice_asked_of(user: UserLike) -> QuerySet[Consultation]:
    """Questions put to this person while they are a member of the share's setting, awaiting
    ones first. The adviser is given no access to the case: the rows carry no child."""
    if not user.is_authenticated:
        return Consultation.objects.none()
    return (
        Consultation.objects.filter(
            adviser=user, share__case__organisation_id__in=_current_organisations(user)
        )
        .select_related("asked_by")
        .order_by(models.F("answered_at").asc(nulls_first=True), "-asked_at", "-pk")
    )


def advice_sought_on(user: UserLike, share: Share) -> QuerySet[Consultation]:
    """The advice asked on a share, for whoever may see the share."""
    return (
        Consultation.objects.filter(share=share, share__in=share_list_for(user).values("pk"))
        .select_related("adviser")
        .order_by("asked_at", "pk")
    )


def share_history_for(user: UserLike, share: Share) -> QuerySet[AuditEntry]:
    """What was done to a share, in the order it was done; reads of it are left out."""
    return (
        AuditEntry.objects.filter(
            share=share,
            share__in=share_list_for(user).values("pk"),
            action__in=EVENT_ACTIONS,
        )
        .select_related("actor")
        .order_by("pk")
    )


def family_follow_ups_for(user: UserLike) -> QuerySet[FamilyFollowUp]:
    """Open promises to tell a family that the user may keep, soonest due first.

    The proposer's own, and for leads and deputies every one of their setting's; always
    within the shares the user may see, so leaving a case team takes them off the list.
    """
    if not user.is_authenticated:
        return FamilyFollowUp.objects.none()
    deciding = setting_ids_where(user, "cases.decide_shares")
    shares = share_list_for(user).filter(Q(proposed_by=user) | Q(case_setting_id__in=deciding))
    return (
        FamilyFollowUp.objects.filter(recorded_at__isnull=True, share__in=shares.values("pk"))
        .select_related("share__case__child", "share__proposed_by")
        .order_by("due_at", "pk")
    )


# --- A setting's register, for those who keep it (permissions.rules.may_keep_register) -------


def register_settings_for(user: UserLike) -> QuerySet[Organisation]:
    """The settings whose children, cases and address book this person keeps: lead, deputy."""
    return Organisation.objects.filter(
        pk__in=organisations_where(user, {Role.LEAD, Role.DEPUTY})
    ).order_by("name")


def settings_run_by(user: UserLike) -> QuerySet[Organisation]:
    """The settings whose details and staff this person runs: their lead."""
    return Organisation.objects.filter(pk__in=organisations_where(user, {Role.LEAD})).order_by(
        "name"
    )


def children_register_for(user: UserLike) -> QuerySet[Child]:
    """Every child on the rolls this person keeps (most children of a roll have no case)."""
    return Child.objects.filter(organisation__in=register_settings_for(user))


def address_book_for(user: UserLike) -> QuerySet[Recipient]:
    """Every entry, retired too, of the address books this person keeps."""
    return Recipient.objects.filter(organisation__in=register_settings_for(user))


def staff_of_settings_run_by(user: UserLike) -> QuerySet[Membership]:
    """Every membership, ended too, of the settings this person leads."""
    return Membership.objects.filter(organisation__in=settings_run_by(user))


def imports_for(user: UserLike) -> QuerySet[RegisterImport]:
    """The person's own uploads, while they may still import that kind into that setting:
    children where they keep the register, staff where they are the lead. Nobody else's, not
    even a fellow lead's, since each holds the children's details of a file not yet checked."""
    if not user.is_authenticated:
        return RegisterImport.objects.none()
    return RegisterImport.objects.filter(by=user).filter(
        Q(kind=RegisterImportKind.CHILDREN, organisation__in=register_settings_for(user))
        | Q(kind=RegisterImportKind.STAFF, organisation__in=settings_run_by(user))
    )


def child_files_for(user: UserLike) -> QuerySet[FileTransfer]:
    """Child protection files sent to or from the settings where the person is a lead or
    deputy, the latest first."""
    settings = setting_ids_where(user, "cases.decide_shares")
    return (
        FileTransfer.objects.filter(Q(to_setting_id__in=settings) | Q(from_setting_id__in=settings))
        .select_related("child", "from_setting", "to_setting", "to_lead", "to_recipient", "sent_by")
        .order_by("-sent_at", "-pk")
    )


def child_files_to_answer(user: UserLike) -> QuerySet[FileTransfer]:
    """Files sent to the person's settings still to be accepted or rejected, due first."""
    return (
        FileTransfer.objects.filter(
            to_setting_id__in=setting_ids_where(user, "cases.decide_shares"),
            status__in=sorted(AWAITING_ANSWER),
        )
        .select_related("child", "from_setting", "to_setting", "to_lead", "to_recipient", "sent_by")
        .order_by("due_at", "pk")
    )


def file_requests_for(user: UserLike) -> QuerySet[FileRequest]:
    """Requests for a child's file made by, or made of, the settings where the person is a
    lead or deputy: the open ones first, then the latest."""
    settings = setting_ids_where(user, "cases.decide_shares")
    return (
        FileRequest.objects.filter(Q(asked_of_id__in=settings) | Q(asked_for_id__in=settings))
        .select_related("asked_of", "asked_for", "asked_by", "answered_by")
        .order_by(models.Case(models.When(status="open", then=0), default=1), "-asked_at", "-pk")
    )


def file_requests_to_answer(user: UserLike) -> QuerySet[FileRequest]:
    return FileRequest.objects.filter(
        asked_of_id__in=setting_ids_where(user, "cases.decide_shares"), status="open"
    )
