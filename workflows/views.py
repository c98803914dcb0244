"""Pages that move a share through its flow. Each is thin: a form, a step, a redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views import View

from cases import rules
from cases.choices import UNDER_REVIEW, Outcome, ShareStatus
from cases.models import Decision, Release, Share
from cases.people import display_name, signed_in
from cases.services import share_update_draft
from cases.services.shares import SHARE_FIELDS, draft_version
from cases.version_changes import version_changes
from permissions.lookups import get_case_for, get_share_for, get_share_to_act_on, note_viewed
from permissions.rules import (
    can_decide,
    can_edit_draft,
    can_propose_share,
    can_record_release,
    may_decide_this,
)
from permissions.selectors import advice_sought_on, recipient_choices_for

from . import steps
from .flows import ShareFlow
from .forms import (
    DecisionForm,
    EmergencyReleaseForm,
    ItemFormSet,
    ReleaseForm,
    ShareForm,
    WithdrawForm,
    apply_service_errors,
    item_initial,
)
from .models import ShareProcess


def share_url(share: Share) -> str:
    return reverse("safeguarding:share_detail", args=[share.pk])


def share_page_for_process(request: HttpRequest, process_pk: int) -> HttpResponse:
    share_ids = ShareProcess.objects.values_list("share_id", flat=True)
    share = get_share_for(request.user, get_object_or_404(share_ids, pk=process_pk))
    return redirect(share_url(share))


def not_theirs_to_decide(request: HttpRequest, share: Share) -> HttpResponseRedirect:
    """A lead or deputy who proposed the share: back to it, saying who decides."""
    messages.info(request, "You proposed this share, so another lead or deputy decides it.")
    return redirect(share_url(share))


def decided_meanwhile(
    request: HttpRequest, share: Share, shown: Decision | None, waiting: set[str]
) -> HttpResponse | None:
    """Two people deciding at once, or a form left open in a tab: when the share no longer
    waits for this decision (another was recorded since the page showed ``shown``), the later
    person is taken to the share and told who decided and how, rather than left on a form
    that can no longer be used."""
    latest = share.decisions.select_related("decided_by").order_by("-decided_at", "-pk").first()
    if latest is None or latest.decided_by_id == request.user.pk:
        return None  # their own decision, posted again: the form says it is already made
    share.refresh_from_db(fields=["status"])
    unchanged = shown is not None and latest.pk == shown.pk
    if unchanged and share.status in waiting:
        return None
    messages.warning(
        request,
        f"Nothing was recorded: {display_name(latest.decided_by)} decided this share on "
        f"{date_format(timezone.localtime(latest.decided_at), 'j M Y, H:i')} "
        f"({latest.get_outcome_display()}). Their decision is on this page.",
    )
    return redirect(share_url(share))


def moved_on(request: HttpRequest, share: Share) -> HttpResponseRedirect:
    messages.info(request, f"This share is now {share.get_status_display().lower()}.")
    return redirect(share_url(share))


class _ShareFormPage(View):
    # What the page shows of its case, for the access log.
    shown: list[Model]
    """Propose a new share or edit a draft: the golden-rule fields and the items together."""

    template_name = "workflows/share_form.html"

    def forms(self, case: Any, share: Share | None) -> tuple[ShareForm, Any]:
        data = self.request.POST if self.request.method == "POST" else None
        form = ShareForm(
            data,
            instance=share,
            recipients=recipient_choices_for(
                self.request.user, case, keeping=share.recipient if share else None
            ),
        )
        formset = ItemFormSet(data, initial=item_initial(share) if share else None, prefix="items")
        return form, formset

    def render_forms(
        self,
        case: Any,
        share: Share | None,
        form: Any,
        formset: Any,
        saved_draft: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The version the form was opened at travels with it, through every re-display,
        # until the person has been shown a newer one (saved_draft): then that one.
        version = "" if share is None else draft_version(share)
        # Logged when shown: a post that succeeds shows nothing (it redirects), and the
        # service's own entry records what was done.
        note_viewed(self.request.user, case, *self.shown)
        if self.request.method == "POST" and saved_draft is None:
            version = self.request.POST.get("draft_version", "")
        return render(
            self.request,
            self.template_name,
            {
                "case": case,
                "share": share,
                "form": form,
                "formset": formset,
                "draft_version": version,
                "saved_draft": saved_draft,
            },
            status=400 if self.request.method == "POST" else 200,
        )

    def handle(self, case: Any, share: Share | None) -> HttpResponse:
        form, formset = self.forms(case, share)
        if self.request.method != "POST":
            return self.render_forms(case, share, form, formset)
        if not (form.is_valid() and formset.is_valid()):
            return self.render_forms(case, share, form, formset)
        submitting = self.request.POST.get("action") == "submit"
        try:
            share = self.save(case, share, form, formset, submitting)
        except ValidationError as error:
            item_forms = dict(enumerate(formset.kept_forms()))
            apply_service_errors(error, form, formset, item_forms)
            saved = None
            if share is not None and "draft_version" in error.message_dict:
                # Someone saved the draft after this form was opened: show theirs beside
                # what was typed here, which stays in the form.
                share = Share.objects.select_related("recipient").get(pk=share.pk)
                saved = saved_draft(share, form)
            return self.render_forms(case, share, form, formset, saved)
        if submitting:
            messages.success(self.request, "Submitted for lead review.")
            return redirect(share_url(share))
        messages.success(self.request, "Draft saved.")
        return redirect("safeguarding:share_edit", pk=share.pk)

    def save(
        self, case: Any, share: Share | None, form: Any, formset: Any, submitting: bool
    ) -> Share:
        raise NotImplementedError


def _shown(share: Share, name: str) -> str:
    value = getattr(share, name)
    if name == "statutory_gateways":
        return "; ".join(share.statutory_gateway_labels)
    if value in (None, ""):
        return ""
    if getattr(Share._meta.get_field(name), "choices", None):
        return str(getattr(share, f"get_{name}_display")())
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return date_format(value)
    return str(value)


def _same(typed: Any, saved: Any) -> bool:
    if isinstance(typed, list | tuple) or isinstance(saved, list | tuple):
        return sorted(typed or []) == sorted(saved or [])
    return (typed if typed is not None else "") == (saved if saved is not None else "")


def saved_draft(share: Share, form: Any) -> dict[str, Any]:
    """The draft as saved now, field by field, marking where it differs from what was typed."""
    typed = getattr(form, "cleaned_data", {})
    fields = [
        {
            "label": form.fields[name].label or name,
            "value": _shown(share, name),
            "differs": name in typed and not _same(typed[name], getattr(share, name)),
        }
        for name in SHARE_FIELDS
    ]
    items = [
        {
            "category": item.get_category_display(),
            "content": item.content,
            "necessity": item.necessity,
        }
        for item in share.items.all()
    ]
    return {"fields": fields, "items": items, "version": draft_version(share)}


class ProposeShareView(_ShareFormPage):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        case = get_case_for(request.user, kwargs["case_pk"])
        self.shown = [case]
        if not can_propose_share(request.user, case):
            messages.error(request, "You cannot propose a share for this case.")
            return redirect("safeguarding:case_detail", pk=case.pk)
        return self.handle(case, None)

    def save(
        self, case: Any, share: Share | None, form: Any, formset: Any, submitting: bool
    ) -> Share:
        # steps.propose proposes and submits in one transaction: if submission is refused,
        # not even the draft is kept.
        return steps.propose(
            case=case,
            user=signed_in(self.request),
            fields=form.service_fields(),
            items=formset.service_items(),
            submit=submitting,
        )


class EditDraftView(_ShareFormPage):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_edit_draft)
        if not share.is_draft:
            return moved_on(request, share)
        # The page shows the lead's note when the share was returned: that decision is read too.
        last_decision = share.decisions.order_by("-decided_at", "-pk").first()
        self.shown = [share, *([last_decision] if last_decision else [])]
        if request.method == "GET":
            steps.note_opened(share, ShareFlow.draft, signed_in(request))
        return self.handle(share.case, share)

    def save(
        self, case: Any, share: Share | None, form: Any, formset: Any, submitting: bool
    ) -> Share:
        if share is None:  # the edit page always has its draft; only proposing has none
            raise Http404("No share matches the given query.")
        user, fields, items = (
            signed_in(self.request),
            form.service_fields(),
            formset.service_items(),
        )
        # Absent (a forged or truncated post), it matches no version: refused, never a blind save.
        based_on = self.request.POST.get("draft_version", "")
        if submitting:
            return steps.save_and_submit(
                share=share, user=user, fields=fields, items=items, based_on=based_on
            )
        return share_update_draft(
            share=share, user=user, fields=fields, items=items, based_on=based_on
        )


class WithdrawView(View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_edit_draft)
        if not share.is_draft:
            return moved_on(request, share)
        form = WithdrawForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                steps.withdraw(
                    share=share, user=signed_in(request), reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                apply_service_errors(_rename(error, "withdrawn_reason", "reason"), form)
            else:
                messages.success(request, "The share was withdrawn. The reason is on the record.")
                return redirect(share_url(share))
        return render(
            request,
            "workflows/withdraw.html",
            {"share": share, "form": form},
            status=400 if request.method == "POST" else 200,
        )


def _rename(error: ValidationError, old: str, new: str) -> ValidationError:
    return ValidationError(
        {new if key == old else key: value for key, value in error.message_dict.items()}
    )


class EmergencyReleaseView(View):
    """Release at once when a child is at immediate risk and no lead can be reached."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_edit_draft)
        if not share.is_draft:
            return moved_on(request, share)
        items = list(share.items.all())
        flagged = [item for item in items if item.identifies_third_party]
        form = EmergencyReleaseForm(
            request.POST if request.method == "POST" else None, flagged_items=flagged, share=share
        )
        # Said before anything is typed; the service refuses it again on the way in.
        not_allowed = rules.emergency_release_errors(share) if request.method != "POST" else {}
        if request.method == "POST" and form.is_valid():
            try:
                steps.release_in_emergency(
                    share=share, user=signed_in(request), **form.service_kwargs()
                )
            except ValidationError as error:
                apply_service_errors(_item_errors_by_pk(error, items), form)
            else:
                messages.warning(
                    request,
                    "Released in an emergency. Your lead has been asked to review it today.",
                )
                return redirect(share_url(share))
        # Logged when shown: a release that succeeds redirects, and is in the log itself.
        note_viewed(request.user, share.case, share)
        return render(
            request,
            "workflows/emergency_release.html",
            {
                "share": share,
                "items": items,
                "form": form,
                "not_allowed": [m for messages_ in not_allowed.values() for m in messages_],
            },
            status=400 if request.method == "POST" else 200,
        )


class LeadReviewView(View):
    """The lead sees everything about the share on one page and decides."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_decide)
        if not may_decide_this(request.user, share):
            return not_theirs_to_decide(request, share)
        # A retrospective review: what already went, to whom and by whom, is on the page.
        release = (
            Release.objects.filter(share=share).select_related("released_by").first()
            if share.status == ShareStatus.RELEASED_IN_EMERGENCY
            else None
        )
        decisions = list(share.decisions.select_related("decided_by", "version"))
        # Golden rule 3: the advice asked on the draft, as the adviser was shown it. Its
        # share and case come along, so logging each one read costs no query of its own.
        consultations = list(advice_sought_on(request.user, share).select_related("share__case"))
        form = DecisionForm(
            request.POST if request.method == "POST" else None,
            share=share,
            decider=signed_in(request),
        )
        if request.method == "POST":
            if form.is_valid():
                try:
                    decision = steps.decide(
                        share=share, user=signed_in(request), **form.service_kwargs()
                    )
                except ValidationError as error:
                    shown = decisions[-1] if decisions else None
                    overtaken = decided_meanwhile(request, share, shown, set(UNDER_REVIEW))
                    if overtaken is not None:
                        return overtaken
                    apply_service_errors(error, form)
                else:
                    messages.success(
                        request, f"Decision recorded: {decision.get_outcome_display()}."
                    )
                    return redirect(share_url(share))
        elif share.status in (ShareStatus.AWAITING_REVIEW, ShareStatus.RELEASED_IN_EMERGENCY):
            steps.note_opened(share, ShareFlow.lead_review, signed_in(request))
        else:
            return moved_on(request, share)
        # Logged when shown: a decision that succeeds redirects, and is in the log itself.
        note_viewed(
            request.user,
            share.case,
            share,
            *decisions,
            *([release] if release else []),
            *consultations,
        )
        return render(
            request,
            "workflows/lead_review.html",
            {
                "share": share,
                "items": share.items.all(),
                "form": form,
                "release": release,
                "consultations": consultations,
                # Golden rule 2: a promise to tell the family, kept or still open.
                "follow_ups": list(share.family_follow_ups.select_related("recorded_by")),
                "now": timezone.now(),
                **_since_returned(share, decisions),
            },
            status=400 if request.method == "POST" else 200,
        )


def _since_returned(share: Share, decisions: list[Decision]) -> dict[str, Any]:
    """For a share sent back and submitted again: the lead's note, and what changed since.

    The comparison is between the version the return was decided on and the one now
    awaiting review; an older return without its version is shown without a comparison.
    """
    returned = next((d for d in reversed(decisions) if d.outcome == Outcome.RETURN), None)
    if returned is None:
        return {"returned": None, "changes": None}
    before, after = returned.version, share.versions.order_by("-number").first()
    changes = (
        version_changes(before, after)
        if before is not None and after is not None and after.pk != before.pk
        else None
    )
    return {"returned": returned, "changes": changes}


class RecordReleaseView(View):
    """Record a release sent some other way (phone, a portal, in person), after the fact."""

    form_class: type[ReleaseForm] = ReleaseForm
    template_name = "workflows/record_release.html"

    def release(self, request: HttpRequest, share: Share, form: ReleaseForm) -> None:
        steps.record_release(share=share, user=signed_in(request), **form.service_kwargs())
        messages.success(request, "The release is recorded.")

    def extra_context(self, share: Share) -> dict[str, Any]:
        return {}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        share = get_share_to_act_on(request.user, kwargs["pk"], can_record_release)
        decision = share.decisions.order_by("-decided_at", "-pk").first()
        approved = list(decision.approved_items.all()) if decision else []
        flagged = [item for item in approved if item.identifies_third_party]
        form = self.form_class(
            request.POST if request.method == "POST" else None, flagged_items=flagged
        )
        if request.method == "POST":
            if form.is_valid():
                try:
                    self.release(request, share, form)
                except ValidationError as error:
                    apply_service_errors(_item_errors_by_pk(error, approved), form)
                else:
                    return redirect(share_url(share))
        elif share.status in (ShareStatus.APPROVED, ShareStatus.APPROVED_IN_PART):
            steps.note_opened(share, ShareFlow.record_release, signed_in(request))
        else:
            return moved_on(request, share)
        # Logged when shown: a release that is recorded redirects, and is in the log itself.
        note_viewed(request.user, share.case, share, *([decision] if decision else []))
        return render(
            request,
            self.template_name,
            {
                "share": share,
                "decision": decision,
                "approved": approved,
                "form": form,
                **self.extra_context(share),
            },
            status=400 if request.method == "POST" else 200,
        )


def _item_errors_by_pk(error: ValidationError, approved: list[Any]) -> ValidationError:
    """Map ``items.<n>.<field>`` to the release form's per-item field names."""
    names = {"third_party_handling": "handling", "redacted_content": "redacted"}
    renamed: dict[str, list[str]] = {}
    for key, messages_ in error.message_dict.items():
        if key.startswith("items."):
            _, index, field = key.split(".", 2)
            item = approved[int(index)]
            if field in names:
                key = f"{names[field]}_{item.pk}"
            else:
                # A draft's own item field, not on this page: say which item it is about.
                key = "__all__"
                messages_ = [f"Item {item.position + 1}: {message}" for message in messages_]
        renamed.setdefault(key, []).extend(messages_)
    return ValidationError(renamed)
