"""Each release records its setting and when its time to release began.

The timing reports then read a setting's releases from one index, with no join to their
decisions, shares and cases (issue 15: at a million decisions that join was most of a
manager's release figures).

Existing releases are filled in by one UPDATE, with exactly what the reports computed until
now: the setting of the share's case; the decided_at of the decision the release acted on,
or for an emergency release (no decision) the share's proposal. Releases are append-only,
but, as for decisions (migration 0013), the refusal of changes is the ORM's: this one-off
statement writes only the two new columns. It is plain SQL that PostgreSQL and SQLite both
run.
"""

import django.db.models.deletion
from django.db import migrations, models

FILL_IN = """
UPDATE cases_release SET
    organisation_id = (
        SELECT cases_case.organisation_id FROM cases_share
        JOIN cases_case ON cases_case.id = cases_share.case_id
        WHERE cases_share.id = cases_release.share_id
    ),
    timed_from = COALESCE(
        (SELECT cases_decision.decided_at FROM cases_decision
         WHERE cases_decision.id = cases_release.decision_id),
        (SELECT cases_share.created_at FROM cases_share
         WHERE cases_share.id = cases_release.share_id)
    )
"""


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0015_share_setting_and_queue_order"),
    ]

    operations = [
        # Empty at first, filled in, then required.
        migrations.AddField(
            model_name="release",
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
            model_name="release",
            name="timed_from",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunSQL(FILL_IN, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="release",
            name="organisation",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="cases.organisation",
            ),
        ),
        migrations.AlterField(
            model_name="release",
            name="timed_from",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="release",
            index=models.Index(
                fields=["organisation", "sent_at"],
                include=("timed_from", "decision"),
                name="release_setting_sent_at",
            ),
        ),
    ]
