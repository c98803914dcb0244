from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from viewflow.workflow.managers import TaskQuerySet
from viewflow.workflow.models import Process, Task

from cases.models import Share
from permissions.selectors import review_queue_for, share_list_for


class ShareProcess(Process):
    """The workflow instance routing one share; the share itself holds the record."""

    share = models.OneToOneField(Share, on_delete=models.PROTECT, related_name="process")

    class Meta:
        verbose_name = "share process"

    @property
    def brief(self) -> str:
        return f"Share #{self.share_id}"


class ShareTaskQuerySet(TaskQuerySet):
    """viewflow's task lists, narrowed to the shares the person may see.

    viewflow's own queue reads guardian's generic permission tables only, so with direct
    foreign-key permissions a lead's queue would be empty; and its other lists show every
    process to anyone allowed to see the flow at all. Both defer to ``permissions`` here.
    """

    def visible_to(self, user: Any) -> ShareTaskQuerySet:
        return self.filter(process__shareprocess__share__in=share_list_for(user).values("pk"))

    def filter_available(self, flow_classes: Any, user: Any) -> ShareTaskQuerySet:
        return super().filter_available(flow_classes, user).visible_to(user)

    def user_queue(self, user: Any, flow_class: Any = None) -> ShareTaskQuerySet:
        queryset = self.filter(flow_task_type="HUMAN")
        if flow_class is not None:
            queryset = queryset.filter(process__flow_class=flow_class)
        awaiting = review_queue_for(user).values("pk")
        return queryset.filter(Q(owner=user) | Q(process__shareprocess__share__in=awaiting))

    def user_archive(self, user: Any, flow_class: Any = None) -> ShareTaskQuerySet:
        return super().user_archive(user, flow_class).visible_to(user)


class ShareTask(Task):
    objects = ShareTaskQuerySet.as_manager()

    class Meta:
        proxy = True
