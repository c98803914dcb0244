"""The search page: find a child or case by name, preferred name, UPN or case reference.

What may be found, and the audit entry each search writes, are decided in
``permissions.search``; this page only reads the form and shows the result.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from cases.people import signed_in
from permissions.search import MAX_RESULTS, MAX_SEARCH_LENGTH, MIN_SEARCH_LENGTH, search_for


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Name, UPN or case reference",
        help_text=(
            "A child's legal or preferred name, their full name, their UPN or a case "
            f"reference. At least {MIN_SEARCH_LENGTH} characters."
        ),
        required=False,
        # Not a limit the person can break: the search reads the first characters only.
        widget=forms.TextInput(attrs={"maxlength": MAX_SEARCH_LENGTH, "autocomplete": "off"}),
    )


class SearchView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = SearchForm(request.GET if "q" in request.GET else None)
        result = None
        # An invalid form (a NUL byte) shows its message and searches nothing.
        if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
            result = search_for(signed_in(request), form.cleaned_data["q"])
            if result.too_short:
                form.add_error("q", f"Type at least {MIN_SEARCH_LENGTH} characters to search.")
                result = None
        return render(
            request,
            "workflows/search.html",
            {
                "form": form,
                "result": result,
                "max_results": MAX_RESULTS,
            },
        )
