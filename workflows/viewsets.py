"""viewflow's own workflow pages (dashboard, inbox, queue, archive, process and task lists,
process and task detail), narrowed to the shares a person may see.

Every URL that names a process answers 404 to anyone who may not see its share, before
viewflow's own checks (which would answer 403 and so reveal that the process exists).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from viewflow.workflow.flow import views as flow_views
from viewflow.workflow.flow.viewset import FlowAppViewset

from permissions.selectors import share_list_for

from .flows import ShareFlow
from .models import ShareTask


def _visible(request: HttpRequest, process_pk: Any, task_pk: Any = None) -> bool:
    if not share_list_for(request.user).filter(process__pk=process_pk).exists():
        return False
    # viewflow loads the task by its own pk alone: it must belong to the process checked.
    return task_pk is None or ShareTask.objects.filter(pk=task_pk, process_id=process_pk).exists()


def _guard(view: Any) -> Any:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _visible(request, kwargs["process_pk"], kwargs.get("task_pk")):
            raise Http404("No share matches the given query.")
        return view(request, *args, **kwargs)

    return guarded


def _guard_all(patterns: list[Any]) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _guard_all(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and "process_pk" in str(pattern.pattern):
            pattern.callback = _guard(pattern.callback)


class ScopedProcessListView(flow_views.DashboardProcessListView):
    def get_queryset(self) -> Any:
        visible = share_list_for(self.request.user)
        return super().get_queryset().filter(share__in=visible).order_by("-created")


# Each row shows its process's summary, which needs the ShareProcess: fetch it with the row.
_ROW_RELATIONS = ("process__shareprocess",)


class ScopedTaskListView(flow_views.DashboardTaskListView):
    @property
    def queryset(self) -> Any:
        return super().queryset.visible_to(self.request.user).select_related(*_ROW_RELATIONS)


class ScopedInboxView(flow_views.FlowInboxListView):
    @property
    def queryset(self) -> Any:
        return super().queryset.visible_to(self.request.user).select_related(*_ROW_RELATIONS)


class ScopedQueueView(flow_views.FlowQueueListView):
    @property
    def queryset(self) -> Any:
        return super().queryset.select_related(*_ROW_RELATIONS)


class ScopedProcessDetailView(flow_views.DetailProcessView):
    def get_queryset(self) -> Any:
        return super().get_queryset().filter(share__in=share_list_for(self.request.user))


class ShareFlowViewset(FlowAppViewset):
    """The share flow's viewflow pages, every list and detail scoped by ``permissions``."""

    process_list_view_class = ScopedProcessListView
    task_list_view_class = ScopedTaskListView
    inbox_view_class = ScopedInboxView
    queue_view_class = ScopedQueueView
    process_detail_view_class = ScopedProcessDetailView
    # Bulk assign/unassign work over the whole task table; tasks are taken one by one here.
    tasks_assign_path = None
    tasks_unassign_path = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ShareFlow, **kwargs)

    def _get_urls(self) -> list[Any]:
        patterns = super()._get_urls()
        _guard_all(patterns)
        return patterns
