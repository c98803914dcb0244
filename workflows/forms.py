"""Forms collect what a person typed; the rules are applied by the ``cases`` services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from cases import choices, rules
from cases.date_inputs import IsoDateInput, IsoDateTimeInput
from cases.models import Recipient, Share, ShareItem
from cases.services.shares import SHARE_FIELDS

# The share form, in the order a busy practitioner thinks it through.
SHARE_SECTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "What and why",
        "Say what this share is for and how soon it is needed.",
        ("purpose", "direction", "requested_by", "requested_on", "urgency"),
    ),
    (
        "Who will receive it (golden rule 6)",
        "A named person at a named organisation, over a secure method.",
        ("recipient", "sending_method"),
    ),
    (
        "The law (golden rule 1)",
        "The law is a framework for sharing, not a barrier.",
        (
            "lawful_basis",
            "lawful_basis_power",
            "statutory_gateways",
            "article9_condition",
            "schedule1_paragraph",
            "para18_reason",
        ),
    ),
    (
        "Consent (golden rule 4)",
        "Seek consent where it is appropriate; record why when it is not.",
        ("consent_status", "consent_not_sought_reason", "consent_override_justification"),
    ),
    (
        "Openness with the family (golden rule 2)",
        "Be open and honest: record when the family was told and by whom, or why not.",
        (
            "family_informed",
            "family_informed_on",
            "family_informed_by",
            "family_not_told_reason",
            "family_not_told_detail",
        ),
    ),
    (
        "Safety and well-being (golden rule 5)",
        "Weigh the risk of sharing against the risk of not sharing.",
        ("risk_if_shared", "risk_if_not_shared"),
    ),
]


class RecipientChoiceField(forms.ModelChoiceField):
    """A draft may still name someone since retired from the address book: say so."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} (retired)" if obj.retired_at is not None else str(obj)


class ShareForm(forms.ModelForm):
    statutory_gateways = forms.MultipleChoiceField(
        label="Statutory gateways (optional)",
        choices=choices.StatutoryGateway.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    requested_on = forms.DateField(label="When they asked", required=False, widget=IsoDateInput())
    family_informed_on = forms.DateField(
        label="When they were told",
        required=False,
        widget=IsoDateInput(),
    )

    class Meta:
        model = Share
        fields = SHARE_FIELDS
        field_classes = {"recipient": RecipientChoiceField}

    def __init__(self, *args: Any, recipients: QuerySet[Recipient], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        recipient = cast(forms.ModelChoiceField, self.fields["recipient"])
        recipient.queryset = recipients
        recipient.empty_label = "Choose a recipient"
        named = self.instance.recipient if self.instance.recipient_id else None
        if named is not None and named.retired_at is not None:
            recipient.help_text = (
                f"{named} has been retired from the address book: choose who receives this "
                "now before submitting it."
            )
        for field in self.fields.values():
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs["rows"] = 3

    def _get_validation_exclusions(self) -> set[str]:
        exclusions = set(super()._get_validation_exclusions())  # type: ignore[misc]  # not in the stubs
        # The field has already found the recipient in this setting's address book; the
        # model's own check that the row exists would only ask again. The service checks
        # it once more, inside the transaction that saves the share.
        exclusions.add("recipient")
        return exclusions

    def sections(self) -> list[dict[str, Any]]:
        return [
            {"title": title, "hint": hint, "fields": [self[name] for name in names]}
            for title, hint, names in SHARE_SECTIONS
        ]

    def service_fields(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in SHARE_FIELDS}


# Beside the box, in words: the service counts these categories whatever the box says, so
# the form must not let anyone think unticking it takes an item out of Art 9.
_ALWAYS_SPECIAL = " or ".join(
    f"“{label}”"
    for value, label in choices.ItemCategory.choices
    if choices.is_special_category_by_nature(value)
)
SPECIAL_CATEGORY_HELP = (
    f"An item under {_ALWAYS_SPECIAL} is always special category data: it counts as such, "
    "and this box is ticked for it when the draft is saved. Tick it for any other item that "
    "reveals health, ethnicity, religion or belief, sex life or sexual orientation, political "
    "opinions, trade union membership, or genetic or biometric data."
)


class ItemForm(forms.ModelForm):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = ShareItem
        fields = (
            "category",
            "content",
            "necessity",
            "is_special_category",
            "identifies_third_party",
            "third_party_details",
        )
        widgets = {
            "content": forms.Textarea(attrs={"rows": 3}),
            "necessity": forms.Textarea(attrs={"rows": 2}),
            "third_party_details": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"is_special_category": SPECIAL_CATEGORY_HELP}


class BaseItemFormSet(forms.BaseFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove this item from the share"

    def kept_forms(self) -> list[forms.Form]:
        """Forms of the items the draft keeps: existing ones and newly filled ones."""
        return [
            form
            for form in self.forms
            if form.cleaned_data
            and (form.cleaned_data.get("id") or form.has_changed())
            and not form.cleaned_data.get("DELETE")
        ]

    def service_items(self) -> list[dict[str, Any]]:
        return [form.cleaned_data for form in self.kept_forms()]


# absolute_max as well as max_num: a post claiming 1,001 forms builds no more than the cap of
# them, and is refused with the formset's message (the service refuses more items too).
MAX_ITEMS = rules.MAX_ITEMS_PER_SHARE
ItemFormSet = forms.formset_factory(
    ItemForm,
    formset=BaseItemFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_ITEMS,
    absolute_max=MAX_ITEMS,
    validate_max=True,
)


def item_initial(share: Share) -> list[dict[str, Any]]:
    return [
        {
            "id": item.pk,
            "category": item.category,
            "content": item.content,
            "necessity": item.necessity,
            "is_special_category": item.counts_as_special_category,
            "identifies_third_party": item.identifies_third_party,
            "third_party_details": item.third_party_details,
        }
        for item in share.items.all()
    ]


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why is this share being withdrawn?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=choices.Outcome.choices, widget=forms.RadioSelect)
    approved_items = forms.TypedMultipleChoiceField(
        label="Items that may be released (for approve in part)",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    refusal_reason = forms.ChoiceField(
        label="Main reason for refusing",
        choices=[("", "Choose a reason"), *choices.RefusalReason.choices],
        required=False,
    )
    reasons = forms.CharField(
        label="Reasons (kept on the record, whatever the outcome)",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        required=False,
    )
    conditions = forms.CharField(
        label="Conditions on the release (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )
    self_approval_rationale = forms.CharField(
        label="Why you are deciding your own share (one-person settings only)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
        required=False,
    )

    def __init__(self, *args: Any, share: Share, decider: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if decider is not None and decider.pk != share.proposed_by_id:
            # Asked only of a childminder deciding their own share: nobody else needs it.
            del self.fields["self_approval_rationale"]
        self.fields["approved_items"].choices = [  # type: ignore[attr-defined]
            (item.pk, f"{item.position + 1}. {item.get_category_display()}")
            for item in share.items.all()
        ]
        if share.status == choices.ShareStatus.RELEASED_IN_EMERGENCY:
            # Everything has already gone: the lead's view is recorded, nothing is undone,
            # and there is nothing left to approve in part or put conditions on.
            self.fields["outcome"].choices = [  # type: ignore[attr-defined]
                (choices.Outcome.APPROVE, "Endorse it: it was right to share"),
                (
                    choices.Outcome.REFUSE,
                    "It should not have been shared (this is recorded; it cannot unsend it)",
                ),
            ]
            del self.fields["approved_items"]
            del self.fields["conditions"]

    # The fields only some outcomes use. The page shows each only once its outcome is
    # chosen (CSS, so it works without JavaScript); whatever else is posted is dropped.
    OUTCOMES_USING: dict[str, tuple[str, ...]] = {
        "approved_items": (choices.Outcome.APPROVE_IN_PART,),
        "refusal_reason": (choices.Outcome.REFUSE,),
        "conditions": (choices.Outcome.APPROVE, choices.Outcome.APPROVE_IN_PART),
    }

    def outcome_classes(self, name: str) -> str:
        """The CSS classes that show a field only for the outcomes that use it."""
        outcomes = self.OUTCOMES_USING.get(name)
        if not outcomes:
            return ""
        return " ".join(["ss-for-outcome", *(f"ss-for-{outcome}" for outcome in outcomes)])

    def fields_by_outcome(self) -> list[tuple[forms.BoundField, str]]:
        """Each field, with the classes that tie it to its outcomes (empty: always shown)."""
        return [(self[name], self.outcome_classes(name)) for name in self.fields]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        outcome = cleaned.get("outcome")
        for name, outcomes in self.OUTCOMES_USING.items():
            if name in self.fields and outcome not in outcomes:
                # Left over from an outcome chosen then changed, and hidden from the
                # person: neither kept nor a reason to refuse the form.
                cleaned.pop(name, None)
                self.errors.pop(name, None)
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["approved_item_ids"] = data.pop("approved_items", [])
        return data


class ReconsiderationForm(DecisionForm):
    """The lead review's form, for looking again at a refusal: no return to the proposer."""

    def __init__(self, *args: Any, share: Share, decider: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, share=share, decider=decider, **kwargs)
        self.fields["outcome"].choices = [  # type: ignore[attr-defined]
            (choices.Outcome.APPROVE, "Approve: the information may now be shared"),
            (choices.Outcome.APPROVE_IN_PART, "Approve in part"),
            (choices.Outcome.REFUSE, "Refuse again: the refusal stands"),
        ]
        self.fields["refusal_reason"].label = "Main reason the refusal stands"
        reasons = "Why you looked again, and the reasons for this outcome (kept on the record)"
        self.fields["reasons"].label = reasons


class AskReconsiderationForm(forms.Form):
    reason = forms.CharField(
        label="Why should the refusal be looked at again?",
        help_text=(
            "What the decision may have missed, or what has changed since. The leads and "
            "deputies are told at once; their answer is kept with the share."
        ),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
        error_messages={
            "required": "Say why the refusal should be looked at again: what the decision may "
            "have missed, or what has changed."
        },
    )


class FamilyToldForm(forms.Form):
    informed_on = forms.DateField(
        label="When the family was told",
        required=False,
        widget=IsoDateInput(),
    )
    informed_by = forms.CharField(label="Who told them", max_length=200, required=False)


class ReleaseForm(forms.Form):
    sent_at = forms.DateTimeField(
        label="When it was sent",
        widget=IsoDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        required=False,
    )
    note = forms.CharField(
        label="Note (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )

    def __init__(self, *args: Any, flagged_items: list[ShareItem], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flagged_items = flagged_items
        for item in flagged_items:
            self.fields[f"handling_{item.pk}"] = forms.ChoiceField(
                label=f"Item {item.position + 1} identifies someone else",
                choices=[
                    (choices.ThirdPartyHandling.REDACTED, "Send the redacted text below"),
                    (choices.ThirdPartyHandling.CONFIRMED, "I confirm it must be sent as written"),
                ],
                widget=forms.RadioSelect,
                required=False,
            )
            # Starts empty: pre-filled with the original, "redacted" could be chosen with
            # nothing taken out. The release refuses the original or the flagged details.
            self.fields[f"redacted_{item.pk}"] = forms.CharField(
                label=f"Redacted text for item {item.position + 1}",
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=8000,
                required=False,
                help_text=(
                    (
                        f"Write what will be sent, without: {item.third_party_details}."
                        if item.third_party_details.strip()
                        else "Write what will be sent, without what identifies them."
                    )
                    + " Only take words out; put any replacement in square brackets, for "
                    "example [a neighbour]."
                ),
            )

    def flagged(self) -> list[dict[str, Any]]:
        return [
            {
                "item": item,
                "handling": self[f"handling_{item.pk}"],
                "redacted": self[f"redacted_{item.pk}"],
            }
            for item in self.flagged_items
        ]

    def service_kwargs(self) -> dict[str, Any]:
        handling = {
            item.pk: (
                self.cleaned_data.get(f"handling_{item.pk}") or "",
                self.cleaned_data.get(f"redacted_{item.pk}") or "",
            )
            for item in self.flagged_items
        }
        return {
            "sent_at": self.cleaned_data.get("sent_at"),
            "note": self.cleaned_data.get("note") or "",
            "third_party_handling": handling,
        }


class SecureLinkForm(ReleaseForm):
    """Sending by secure link: sent now, so no time to type; the rest as for a release."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["sent_at"]

    def service_kwargs(self) -> dict[str, Any]:
        given = super().service_kwargs()
        del given["sent_at"]
        return given


class EmergencyReleaseForm(ReleaseForm):
    justification = forms.CharField(
        label="Why the child is at immediate risk, and why no lead could be reached",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        required=False,
        help_text="Your lead reviews this release today; this is what they will read first.",
    )
    field_order = ["justification", "consent_override_justification", "sent_at", "note"]

    def __init__(self, *args: Any, share: Share, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Consent was refused and no lead signs this off first: the written justification
        # is asked for here, so the practitioner can give it without leaving the page.
        if share.consent_status == choices.ConsentStatus.REFUSED:
            self.fields["consent_override_justification"] = forms.CharField(
                label="Consent was refused: why sharing is still justified",
                widget=forms.Textarea(attrs={"rows": 3}),
                max_length=4000,
                required=False,
                initial=share.consent_override_justification,
            )
            self.order_fields(self.field_order)

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = {**super().service_kwargs(), "justification": self.cleaned_data["justification"]}
        if "consent_override_justification" in self.fields:
            kwargs["consent_override_justification"] = self.cleaned_data.get(
                "consent_override_justification", ""
            )
        return kwargs


def apply_service_errors(
    error: ValidationError,
    form: forms.BaseForm,
    formset: forms.BaseFormSet | None = None,
    item_forms: dict[int, forms.BaseForm] | None = None,
) -> None:
    """Show each rule's message beside the field it concerns; nothing typed is lost.

    Item errors arrive keyed ``items.<n>.<field>``: the n-th item the service was given,
    mapped back to its form by ``item_forms``.
    """
    for key, messages in error.message_dict.items():
        if key.startswith("items."):
            _, index, field = key.split(".", 2)
            target = (item_forms or {}).get(int(index))
            if target is not None and field in target.fields:
                for message in messages:
                    target.add_error(field, message)
                continue
            key = "__all__"
        if key == "items" and formset is not None:
            # Django keeps a formset's own errors here; there is no public way to add one.
            formset._non_form_errors = formset.error_class(  # type: ignore[attr-defined]
                [*formset.non_form_errors(), *messages], error_class="nonform"
            )
            continue
        for message in messages:
            form.add_error(key if key in form.fields else None, message)
