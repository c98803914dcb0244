from __future__ import annotations

from typing import Any

from django import forms

from cases.people import display_name

from .break_glass import MAX_HOURS, break_glass_hours


class BreakGlassForm(forms.Form):
    reference = forms.CharField(
        label="Case reference",
        max_length=40,
        help_text="Exactly as it appears on the case, for example OAK-003.",
    )
    reason = forms.CharField(
        label="Why do you need access to this case now?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Your setting's lead is told at once and reviews every use.",
    )
    hours = forms.IntegerField(label="For how many hours", min_value=1, max_value=MAX_HOURS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hours"].initial = break_glass_hours()


class PersonChoiceField(forms.ModelChoiceField):
    """People by the name colleagues know them by."""

    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class TeamMemberForm(forms.Form):
    user = PersonChoiceField(label="Add a practitioner to the case team", queryset=None)

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = candidates  # type: ignore[attr-defined]
