from __future__ import annotations

from typing import Any

from django import forms

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


class TeamMemberForm(forms.Form):
    user = forms.ModelChoiceField(label="Add a practitioner to the case team", queryset=None)

    def __init__(self, *args: Any, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = candidates
        self.fields["user"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
