"""Each decision records its setting, when the review round it closed began, and the share's
urgency.

The timing reports read them instead of joining every decision to its share and case and
looking up, per decision, the lead-review task of its round (workflows.reports).

Existing decisions are filled in by one UPDATE, with exactly the values the reports computed
until now: the setting of the share's case; for a decision answering the share's latest
submission (decided at or after ``Share.submitted_at``), that submission; for one answering
an earlier submission (since overwritten), when the lead-review task of its round was
created, which the flow does in the same transaction as the submission; nothing for a
reconsideration. The urgency is the share's: after any outcome but a return the share is
never a draft again, so its urgency is still the one it was decided under (the reports read a
returned round's urgency from the share).

Decisions are append-only, but the refusal of changes is the ORM's (AppendOnlyQuerySet,
AppendOnlyModel): unlike the audit log, cases_decision has no database trigger refusing an
UPDATE, so this one-off statement, which writes only the three new columns, goes through
on both databases. The statement is plain SQL that PostgreSQL and SQLite both run.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# viewflow's reference to the flow node, as stored in viewflow_task.flow_task.
LEAD_REVIEW = "workflows/flows.ShareFlow.lead_review"

FILL_IN = f"""
UPDATE cases_decision SET
    organisation_id = (
        SELECT cases_case.organisation_id
        FROM cases_share INNER JOIN cases_case ON cases_case.id = cases_share.case_id
        WHERE cases_share.id = cases_decision.share_id
    ),
    urgency = (
        SELECT cases_share.urgency FROM cases_share WHERE cases_share.id = cases_decision.share_id
    ),
    round_started_at = CASE
        WHEN cases_decision.reconsiders_id IS NOT NULL THEN NULL
        WHEN cases_decision.decided_at >= (
            SELECT cases_share.submitted_at FROM cases_share
            WHERE cases_share.id = cases_decision.share_id
        ) THEN (
            SELECT cases_share.submitted_at FROM cases_share
            WHERE cases_share.id = cases_decision.share_id
        )
        ELSE (
            SELECT viewflow_task.created
            FROM viewflow_task
            INNER JOIN workflows_shareprocess
                ON workflows_shareprocess.process_ptr_id = viewflow_task.process_id
            WHERE workflows_shareprocess.share_id = cases_decision.share_id
                AND viewflow_task.flow_task = '{LEAD_REVIEW}'
                AND viewflow_task.created <= cases_decision.decided_at
            ORDER BY viewflow_task.created DESC, viewflow_task.id DESC
            LIMIT 1
        )
    END
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0012_registerimport"),
        # The fill-in reads the flow's lead-review tasks.
        ("workflows", "0001_initial"),
        ("viewflow", "0015_task_scheduled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Empty at first, filled in, then required.
        migrations.AddField(
            model_name="decision",
            name="organisation",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.organisation",
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="round_started_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="decision",
            name="urgency",
            field=models.CharField(
                choices=[("immediate", "Immediate risk"), ("urgent", "Urgent"), ("routine", "Routine")],
                default="",
                editable=False,
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.RunSQL(FILL_IN, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="decision",
            name="organisation",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.organisation",
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                fields=["organisation", "decided_at"], name="decision_setting_decided_at"
            ),
        ),
        migrations.AddIndex(
            model_name="decision",
            index=models.Index(
                condition=models.Q(reconsiders__isnull=True),
                fields=["share", "-decided_at", "-id"],
                name="decision_share_latest_round",
            ),
        ),
    ]
