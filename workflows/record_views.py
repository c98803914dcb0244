"""The decision record of a share: a printable page and the same record as a PDF.

Whoever may see the share may read its record; both are fetched through
``permissions.lookups`` and every copy is written to the access log before it is made.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from permissions.lookups import get_share_for, note_viewed

from .decision_record import DecisionRecord, decision_record
from .decision_record_pdf import decision_record_pdf


def _record_for(request: HttpRequest, pk: int) -> DecisionRecord:
    share = get_share_for(request.user, pk)
    shown = [
        share,
        *share.decisions.all(),
        *share.consultations.all(),
        *([share.release] if hasattr(share, "release") else []),
    ]
    # Logged first and in the same transaction: the record's audit anchor is then the entry
    # recording this very copy, and there is no copy without its entry.
    with transaction.atomic():
        note_viewed(request.user, share.case, *shown)
        return decision_record(share, request.user)


class DecisionRecordView(View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        record = _record_for(request, kwargs["pk"])
        return render(request, "workflows/decision_record.html", {"record": record})


class DecisionRecordPdfView(View):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        record = _record_for(request, kwargs["pk"])
        response = HttpResponse(decision_record_pdf(record), content_type="application/pdf")
        # Named by the share, never the child: file names show up in download lists and mail.
        response["Content-Disposition"] = (
            f'attachment; filename="decision-record-share-{record.share_id}.pdf"'
        )
        # A child's record: not for shared caches or the browser's disk.
        response["Cache-Control"] = "no-store"
        return response
