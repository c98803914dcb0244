"""Signals this app sends for others to act on, so that permissions imports nobody.

``break_glass_taken`` is sent inside the transaction that creates a break-glass grant,
with ``grant=`` the new BreakGlassGrant. The workflows app answers it by writing one outbox
notification per lead and deputy (``workflows/notifications/break_glass.py``), so the alert is
committed with the grant or not at all, and emailed after commit by the worker.
"""

from __future__ import annotations

from django.dispatch import Signal

break_glass_taken = Signal()
