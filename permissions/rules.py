"""Who may act on a record. Services ask these before they write; views never decide."""

from __future__ import annotations

from cases.choices import Role, ShareStatus, Urgency
from cases.models import (
    Case,
    Consultation,
    Delivery,
    FileRequest,
    FileTransfer,
    Organisation,
    RegisterImportKind,
    Share,
)

from .access import access_for
from .roles import UserLike, current_memberships, role_in


def _holds(user: UserLike, permission: str, organisation: Organisation) -> bool:
    return user.is_authenticated and access_for(user).holds(permission, organisation.pk)


def can_see_case(user: UserLike, case: Case) -> bool:
    """The same test as ``selectors.case_list_for``, on the access read once per request."""
    if not user.is_authenticated:
        return False
    access = access_for(user)
    if case.organisation_id not in access.roles:
        return False
    return (
        access.holds("cases.oversee_cases", case.organisation_id)
        or case.pk in access.team_cases
        or (case.closed_at is None and case.pk in access.break_glass_cases())
    )


def can_propose_share(user: UserLike, case: Case) -> bool:
    """Practitioners who may see the case, and the setting's leads, may propose a share."""
    if not case.is_open:
        return False
    role = role_in(user, case.organisation)
    return role in (Role.PRACTITIONER, Role.LEAD, Role.DEPUTY) and can_see_case(user, case)


def can_edit_draft(user: UserLike, share: Share) -> bool:
    return share.proposed_by_id == user.pk and can_see_case(user, share.case)


def can_decide(user: UserLike, share: Share) -> bool:
    """Leads and deputies decide (a childminder is the lead of their own setting)."""
    return _holds(user, "cases.decide_shares", share.organisation)


def may_decide_this(user: UserLike, share: Share) -> bool:
    """A lead or deputy decides a share unless they proposed it: then another does, except in
    a one-person setting, where the childminder decides their own with a written reason."""
    return can_decide(user, share) and (
        share.proposed_by_id != user.pk or share.organisation.is_one_person_setting
    )


def can_record_release(user: UserLike, share: Share) -> bool:
    return can_edit_draft(user, share) or can_decide(user, share)


def can_revoke_link(user: UserLike, delivery: Delivery) -> bool:
    """A secure link is revoked by whoever sent it, while they may still release the share,
    or by a lead or deputy of the share's setting; a file's link, by the sending setting's
    lead or a deputy."""
    if delivery.transfer is not None:
        return can_send_file(user, delivery.transfer.from_setting)
    share = delivery.share
    assert share is not None
    return can_decide(user, share) or (
        delivery.sent_by_id == user.pk and can_record_release(user, share)
    )


def can_send_file(user: UserLike, organisation: Organisation) -> bool:
    """A child's child protection file leaves a setting only by its lead or a deputy."""
    return _holds(user, "cases.decide_shares", organisation)


def can_answer_file(user: UserLike, transfer: FileTransfer) -> bool:
    """A file sent to a setting is opened, accepted or rejected by its lead or a deputy;
    one sent outside the installation is answered there, through its secure link."""
    if transfer.to_setting is None:
        return False
    return _holds(user, "cases.decide_shares", transfer.to_setting)


def can_see_file(user: UserLike, transfer: FileTransfer) -> bool:
    """The sending and the receiving settings' leads and deputies and, once it is accepted,
    whoever may see the case it is attached to (its team); nobody else."""
    if can_answer_file(user, transfer) or can_send_file(user, transfer.from_setting):
        return True
    return transfer.case is not None and can_see_case(user, transfer.case)


def can_read_file(user: UserLike, transfer: FileTransfer) -> bool:
    """The file's contents, beyond its history: the sending setting always (it is their own
    record); the receiving setting unless it rejected the file (then it has no need to
    know: the child never started there, say) or the sender withdrew it (sent to the wrong
    setting, say); whoever may see the case it is attached to."""
    if can_send_file(user, transfer.from_setting):
        return True
    if transfer.status in ("rejected", "withdrawn"):
        return False
    return can_see_file(user, transfer)


def can_see_file_request(user: UserLike, request: FileRequest) -> bool:
    """A request for a child's file: the asking and the asked settings' leads and deputies."""
    return can_send_file(user, request.asked_of) or can_send_file(user, request.asked_for)


def can_record_family_told(user: UserLike, share: Share) -> bool:
    return can_record_release(user, share)


def can_ask_advice(user: UserLike, share: Share) -> bool:
    """Advice is sought while the share is still being prepared (golden rule 3)."""
    return share.status == ShareStatus.DRAFT and can_edit_draft(user, share)


def can_be_adviser(user: UserLike, share: Share) -> bool:
    """Any current member of the share's setting but the one asking may be asked."""
    return user.pk != share.proposed_by_id and role_in(user, share.organisation) is not None


def can_give_advice(user: UserLike, consultation: Consultation) -> bool:
    return consultation.adviser_id == user.pk and can_be_adviser(user, consultation.share)


def can_reconsider(user: UserLike, share: Share) -> bool:
    """A refusal may be looked at again (new information, a challenge) by a lead or deputy."""
    return share.status == ShareStatus.REFUSED and can_decide(user, share)


def may_reconsider_this(user: UserLike, share: Share) -> bool:
    return can_reconsider(user, share) and may_decide_this(user, share)


def can_ask_reconsideration(user: UserLike, share: Share) -> bool:
    """The proposer of a refused share, while they may still see it, may ask for a second look."""
    return share.status == ShareStatus.REFUSED and can_edit_draft(user, share)


def can_oversee(user: UserLike, organisation: Organisation) -> bool:
    return _holds(user, "cases.oversee_cases", organisation)


def can_break_glass(user: UserLike, case: Case) -> bool:
    """Someone of the case's setting who cannot already see it may take time-limited access."""
    return (
        case.is_open
        and _holds(user, "cases.break_glass", case.organisation)
        and not can_see_case(user, case)
    )


def share_actions(user: UserLike, share: Share) -> set[str]:
    """What the user may do next with this share, for the buttons on its page."""
    actions: set[str] = set()
    if share.status == ShareStatus.DRAFT and can_edit_draft(user, share):
        actions |= {"edit", "withdraw", "ask_advice"}
        # Only immediate risk may go before the lead's sign-off (the service refuses the rest).
        if share.urgency == Urgency.IMMEDIATE:
            actions.add("emergency")
    if may_reconsider_this(user, share):
        actions.add("reconsider")
    if can_ask_reconsideration(user, share):
        actions.add("ask_reconsideration")
    under_review = (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY)
    if share.status in under_review and may_decide_this(user, share):
        actions.add("decide")
    if share.status in (
        ShareStatus.APPROVED,
        ShareStatus.APPROVED_IN_PART,
    ) and can_record_release(user, share):
        actions.add("release")
    family_to_tell = share.family_follow_ups.filter(recorded_at__isnull=True).exists()
    if family_to_tell and can_record_family_told(user, share):
        actions.add("family_told")
    return actions


def can_set_deadlines(user: UserLike, organisation: Organisation) -> bool:
    """The setting's lead sets how soon its shares must be decided."""
    return role_in(user, organisation) == Role.LEAD


def can_manage_sign_in(user: UserLike, organisation: Organisation) -> bool:
    """The setting's lead sees its staff's sign-in and resets a lost second factor."""
    return role_in(user, organisation) == Role.LEAD


def settings_led_by(user: UserLike) -> list[Organisation]:
    """The settings where this person is the lead (deadlines, staff sign-in)."""
    return [
        membership.organisation
        for membership in current_memberships(user)
        .filter(role=Role.LEAD)
        .select_related("organisation")
    ]


def may_run_setting(user: UserLike, organisation: Organisation) -> bool:
    """The setting's details and who works there (and in which role) are its lead's: the
    lead answers for who can see its children's records."""
    return role_in(user, organisation) == Role.LEAD


def may_keep_register(user: UserLike, organisation: Organisation) -> bool:
    """Children, their cases and the address book are kept by the lead or a deputy, so the
    register does not wait for one person's return."""
    return role_in(user, organisation) in (Role.LEAD, Role.DEPUTY)


def may_import(user: UserLike, organisation: Organisation, kind: str) -> bool:
    """A file of children is the register's keepers' to import (lead or deputy); a file of
    staff the lead's alone, as inviting them is."""
    if kind == RegisterImportKind.STAFF:
        return may_run_setting(user, organisation)
    return may_keep_register(user, organisation)
