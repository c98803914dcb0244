"""Each share records its case's setting, and its urgency as a rank the database computes.

The lists of a setting's shares (the review queue, a lead's home page, a person's own
shares) then filter on the share's own columns and walk an index in their order, reading a
page of rows rather than joining and sorting every share of the setting (issue 15).

Existing shares are filled in by one UPDATE with their case's setting; a share never changes
case, nor a case its setting, and ``Share.save`` copies it for every new share. The urgency's
rank is a stored generated column, so it can never disagree with ``urgency``. The statement
is plain SQL that PostgreSQL and SQLite both run.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FILL_IN = """
UPDATE cases_share SET case_setting_id = (
    SELECT cases_case.organisation_id FROM cases_case WHERE cases_case.id = cases_share.case_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0014_share_escalation_due"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Empty at first, filled in, then required.
        migrations.AddField(
            model_name="share",
            name="case_setting",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.organisation",
            ),
        ),
        migrations.RunSQL(FILL_IN, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="share",
            name="case_setting",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.organisation",
            ),
        ),
        migrations.AddField(
            model_name="share",
            name="urgency_rank",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(then=models.Value(0), urgency="immediate"),
                    models.When(then=models.Value(1), urgency="urgent"),
                    models.When(then=models.Value(2), urgency="routine"),
                    default=models.Value(3),
                ),
                output_field=models.PositiveSmallIntegerField(),
            ),
        ),
        migrations.AddIndex(
            model_name="share",
            index=models.Index(
                condition=models.Q(("status__in", ["awaiting_review", "released_in_emergency"])),
                fields=["case_setting", "review_due_at", "urgency_rank", "submitted_at", "id"],
                include=("proposed_by", "status"),
                name="share_review_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="share",
            index=models.Index(
                fields=["proposed_by", "case_setting", "-created_at", "-id"],
                include=("case",),
                name="share_proposed_newest",
            ),
        ),
        migrations.AddIndex(
            model_name="share",
            index=models.Index(
                condition=models.Q(("status", "draft")),
                fields=["proposed_by", "case_setting", "-updated_at", "-id"],
                name="share_drafts_last_edited",
            ),
        ),
    ]
