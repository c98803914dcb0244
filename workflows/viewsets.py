"""What is left of viewflow's own pages for the share flow: a share's steps and diagram.

The Safeguarding application is the one place for the work. viewflow's lists (dashboard,
inbox, queue, archive, process and task lists) showed the same shares a second time, under
codes like "#41/316", so their addresses now only send people on to the Safeguarding page
that holds the same work: old bookmarks keep working and viewflow's own templates, which
still reverse those names, never fail. What stays is what a share's page links to: the
process page (the steps the share went through, with times, and the flow diagram), the
diagrams, and the flow's task URLs, which viewflow builds for every node and reverses
internally (a human step's task URL only points at the share's own page).

Every URL that names a process answers 404 to anyone who may not see its share, before
viewflow's own checks (which would answer 403 and so reveal that the process exists).
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.views.generic import RedirectView
from viewflow.workflow.flow import views as flow_views
from viewflow.workflow.flow.viewset import FlowAppViewset

from cases.models import Release
from permissions.context_processors import MenuAccess
from permissions.lookups import note_viewed
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


class ToTheWork(RedirectView):
    """Where a retired viewflow list sends people: the Safeguarding page with that work.

    Most go to the Safeguarding home page, what needs the person now (as viewflow's
    dashboard and inbox meant to be); the queue of reviews nobody has taken to the Lead
    review queue for a lead or deputy (whoever the menu offers it); the archive of work done
    to the person's own shares. Temporary (302): where it leads depends on who asks and may
    change with their role. The destination pages narrow what they show to the person, so
    the redirect itself reveals nothing.
    """

    for_deciders = "safeguarding:index"
    for_others = "safeguarding:index"
    query_string = False  # viewflow's filters and page numbers mean nothing over there

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        if self.for_deciders != self.for_others and MenuAccess(self.request.user).decides:
            return reverse(self.for_deciders)
        return reverse(self.for_others)


class ScopedProcessDetailView(flow_views.DetailProcessView):
    """A share's steps in words, linked from the share's page (viewflow's own page named
    each step "#41/316" and offered a Cancel button that nobody may use)."""

    template_name = "viewflow/workflow/share_process_detail.html"

    def get_queryset(self) -> Any:
        return super().get_queryset().filter(share__in=share_list_for(self.request.user))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Each row names who held the step; the pk orders steps created in the same instant.
        context["task_list"] = (
            context["task_list"].select_related("owner").order_by("created", "pk")
        )
        # A refusal reconsidered comes after the workflow ended at "refused" (and so does a
        # release it allows): said here, so the steps never seem to contradict the share.
        share = self.object.share
        context["after_the_workflow"] = list(
            share.decisions.filter(reconsiders__isnull=False).select_related("decided_by")
        )
        context["release_after"] = (
            Release.objects.filter(share=share, decision__reconsiders__isnull=False).first()
            if context["after_the_workflow"]
            else None
        )
        release = context["release_after"]
        note_viewed(
            self.request.user,
            share.case,
            share,
            *context["after_the_workflow"],
            *([release] if release else []),
        )
        return context


class ShareFlowViewset(FlowAppViewset):
    """The share flow's remaining viewflow pages, every one naming a process scoped by
    ``permissions``, under the Safeguarding menu and kept out of the site's menu."""

    # On the process page the menu is the Safeguarding one, not viewflow's links to the
    # retired lists (and it needs none of the inbox and queue counts viewflow computes).
    menu_template_name = "workflows/menu.html"
    process_detail_view_class = ScopedProcessDetailView

    # The retired lists, under their old names and addresses.
    index_path = path("", ToTheWork.as_view(), name="index")
    inbox_path = path("inbox/", ToTheWork.as_view(), name="inbox")
    queue_path = path(
        "queue/", ToTheWork.as_view(for_deciders="safeguarding:review_queue"), name="queue"
    )
    archive_path = path(
        "archive/",
        ToTheWork.as_view(
            for_deciders="safeguarding:my_shares", for_others="safeguarding:my_shares"
        ),
        name="archive",
    )
    process_list_path = path("flows/", ToTheWork.as_view(), name="process_list")
    task_list_path = path("tasks/", ToTheWork.as_view(), name="task_list")
    # Bulk assign/unassign work over the whole task table; tasks are taken one by one here.
    tasks_assign_path = None
    tasks_unassign_path = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ShareFlow, **kwargs)

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        # viewflow's SiteMiddleware asks this before any view runs and answers a signed-out
        # visitor with its own 403 page; let them through to the page's sign-in requirement
        # (``workflows.site``), which sends them to sign in like every other page.
        return not user.is_authenticated or super().has_view_permission(user, obj)

    def get_context_data(self, request: HttpRequest) -> dict[str, Any]:
        # viewflow counts the inbox and queue here for its own menu, which is not shown.
        return {}

    def _get_urls(self) -> list[Any]:
        patterns = super()._get_urls()
        _guard_all(patterns)
        return patterns
