"""Start, review, release: the same three human steps as a share, with no rules at all.

Nothing is checked beyond what viewflow itself checks: anyone who may see the flow starts
one and takes the review; the release goes back to whoever started it, as a share's does.
"""

from __future__ import annotations

from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.flow.views import CreateProcessView, UpdateProcessView

from .models import Approval


class ApprovalFlow(flow.Flow):
    process_class = Approval
    process_title = "Approval"

    start = (
        flow.Start(CreateProcessView.as_view(fields=["text"]))
        .Annotation(title="Propose")
        .Next(this.review)
    )
    review = (
        flow.View(UpdateProcessView.as_view(fields=["approved"]))
        .Annotation(title="Review")
        .Next(this.release)
    )
    release = (
        flow.View(UpdateProcessView.as_view(fields=["note"]))
        .Annotation(title="Release")
        .Assign(this.start.owner)
        .Next(this.end)
    )
    end = flow.End()
