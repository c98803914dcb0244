from __future__ import annotations

from django.apps import AppConfig


class BareApprovalConfig(AppConfig):
    name = "tests.benchmarks.bare_approval"
    label = "bare_approval"
    verbose_name = "Bare approval (benchmark)"
