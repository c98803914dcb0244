"""Escalation moves from three viewflow timers on the lead review to the share's own
``escalation_due_at``, read by the timer sweep.

Each open review is given the time of its next escalation not yet made in its round (a time
already past is escalated at the next sweep, as its timer would have fired). The tasks of the
flow nodes that no longer exist (the three timers, their escalation functions and their end)
are removed, with their links: viewflow cannot load a task whose node has gone. What they
did stays on the record: each escalation's row, its notifications and its audit entry.
"""

from django.db import migrations

FLOW = "workflows/flows.ShareFlow."
GONE = [
    f"{FLOW}{node}"
    for node in (
        "lead_review__timeout",
        "lead_review__timeout_2",
        "lead_review__timeout_3",
        "remind",
        "bring_in_deputies",
        "bring_in_manager",
        "escalation_sent",
    )
]
LEVELS = ("reminder", "deputies", "manager")
UNDER_REVIEW = ("awaiting_review", "released_in_emergency")
# Task ids deleted per statement: well under SQLite's limit on a statement's parameters.
BATCH = 500


def _escalation_times(submitted_at, due):
    # As cases.deadlines.escalation_times on the day of this migration.
    span = due - submitted_at
    return submitted_at + span / 2, due, due + span


def forwards(apps, schema_editor):
    Share = apps.get_model("cases", "Share")
    Escalation = apps.get_model("workflows", "Escalation")
    open_reviews = Share.objects.filter(
        status__in=UNDER_REVIEW, submitted_at__isnull=False, review_due_at__isnull=False
    ).only("pk", "submitted_at", "review_due_at")
    for share in open_reviews.iterator():
        made = set(
            Escalation.objects.filter(share=share, submitted_at=share.submitted_at).values_list(
                "level", flat=True
            )
        )
        times = _escalation_times(share.submitted_at, share.review_due_at)
        due = [at for level, at in zip(LEVELS, times) if level not in made]
        if due:
            Share.objects.filter(pk=share.pk).update(escalation_due_at=min(due))

    # The tasks' ids first (one read of the task table), then their links and the tasks
    # themselves by id, a batch at a time: each DELETE then walks an index, however many
    # timers a long-used installation holds (an IN over a sub-query too large to hash would
    # rescan it for every link).
    placeholders = ", ".join(["%s"] * len(GONE))
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM viewflow_task WHERE flow_task IN ({placeholders})", GONE)
        gone = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(gone), BATCH):
            batch = gone[start : start + BATCH]
            ids = ", ".join(["%s"] * len(batch))
            cursor.execute(f"DELETE FROM viewflow_task_previous WHERE from_task_id IN ({ids})", batch)
            cursor.execute(f"DELETE FROM viewflow_task_previous WHERE to_task_id IN ({ids})", batch)
            cursor.execute(f"DELETE FROM viewflow_task WHERE id IN ({ids})", batch)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0014_share_escalation_due"),
        ("workflows", "0007_notifications_for_every_event"),
        ("viewflow", "0015_task_scheduled"),
    ]

    # Not reversible: the timers' tasks cannot be rebuilt (their tokens and links are gone).
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
