"""The bare flow's process: viewflow's own Process table, its fields kept in ``data``.

A proxy, so it needs no table (its migration creates none); its permissions (view_approval,
...) belong to this app, so granting them to the benchmark's user gives it nothing of
Safeshare's, and ``sync_permissions`` finds no model-wide permission on Safeshare's records.
"""

from __future__ import annotations

from viewflow import jsonstore
from viewflow.workflow.models import Process


class Approval(Process):
    text = jsonstore.TextField("what is to be sent", max_length=2000)
    approved = jsonstore.BooleanField(default=False)
    note = jsonstore.CharField("how it was sent", max_length=200, blank=True)

    class Meta:
        proxy = True
        verbose_name = "approval"
