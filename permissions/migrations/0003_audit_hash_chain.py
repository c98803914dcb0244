"""Hash-chain the audit log and make the database itself refuse UPDATE and DELETE on it.

Entries already written are chained in their original order (by id) before the columns
become required. The triggers are the last step: Django's ORM never updates or deletes an
entry, and nobody else may either. On SQLite, rebuilding this table in a later migration
drops its triggers; tests/test_audit_chain.py checks they are still in place.

SQLite's INSERT OR REPLACE removes the row it collides with without firing delete triggers,
so a third trigger refuses any insert that would land on an existing entry. PostgreSQL's
INSERT ... ON CONFLICT DO UPDATE fires the update trigger. TRUNCATE fires no row trigger on
PostgreSQL and is left open: Django's flush (which test runs use between transactional
tests) truncates every table. Emptying the log is caught by ``verify_audit --anchor``.
"""

import django.db.models.deletion
from django.db import migrations, models

GENESIS_HASH = "0" * 64
REFUSAL = "the audit log is append-only: entries cannot be changed or removed"

POSTGRESQL_TRIGGERS = f"""
CREATE FUNCTION permissions_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL}';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER permissions_auditentry_no_update BEFORE UPDATE ON permissions_auditentry
    FOR EACH ROW EXECUTE FUNCTION permissions_auditentry_refuse_change();
CREATE TRIGGER permissions_auditentry_no_delete BEFORE DELETE ON permissions_auditentry
    FOR EACH ROW EXECUTE FUNCTION permissions_auditentry_refuse_change();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS permissions_auditentry_no_update ON permissions_auditentry;
DROP TRIGGER IF EXISTS permissions_auditentry_no_delete ON permissions_auditentry;
DROP FUNCTION IF EXISTS permissions_auditentry_refuse_change();
"""
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER permissions_auditentry_no_{event.lower()}
        BEFORE {event} ON permissions_auditentry
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"""
    for event in ("UPDATE", "DELETE")
] + [
    f"""CREATE TRIGGER permissions_auditentry_no_replace
        BEFORE INSERT ON permissions_auditentry
        WHEN EXISTS (SELECT 1 FROM permissions_auditentry WHERE id = NEW.id)
            OR EXISTS (SELECT 1 FROM permissions_auditentry WHERE sequence = NEW.sequence)
            OR EXISTS (SELECT 1 FROM permissions_auditentry WHERE entry_hash = NEW.entry_hash)
        BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"""
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS permissions_auditentry_no_{event}"
    for event in ("update", "delete", "replace")
]


def chain_existing_entries(apps, schema_editor):
    from permissions.audit_chain import content_hash

    AuditEntry = apps.get_model("permissions", "AuditEntry")
    previous = GENESIS_HASH
    for sequence, entry in enumerate(AuditEntry.objects.order_by("pk").iterator(), start=1):
        entry.sequence = sequence
        entry.share_id = None
        entry.previous_hash = previous
        entry.entry_hash = previous = content_hash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(
            sequence=sequence, previous_hash=entry.previous_hash, entry_hash=entry.entry_hash
        )


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_TRIGGERS)
    elif vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_versions_openness_advice"),
        ("permissions", "0002_alter_auditentry_options"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("view_case", "Viewed a case"),
                    ("view_share", "Viewed a share"),
                    ("view_decision", "Viewed a decision"),
                    ("view_release", "Viewed a release"),
                    ("view_consultation", "Viewed a request for advice"),
                    ("grant", "Access granted"),
                    ("revoke", "Access revoked"),
                    ("break_glass", "Break-glass access taken"),
                    ("share_created", "Share proposed"),
                    ("share_edited", "Draft changed"),
                    ("share_submitted", "Share submitted for lead review"),
                    ("share_decided", "Decision recorded"),
                    ("share_reconsidered", "Decision reconsidered"),
                    ("share_returned", "Share returned for more information"),
                    ("share_released", "Release recorded"),
                    ("share_withdrawn", "Share withdrawn"),
                    ("escalation", "Review escalated"),
                    ("advice_asked", "Advice asked without identity"),
                    ("advice_given", "Advice given"),
                    ("family_informed", "Family told"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="share",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_entries",
                to="cases.share",
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="sequence",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="previous_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="sequence",
            field=models.PositiveBigIntegerField(unique=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="previous_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"base_manager_name": "objects", "ordering": ["sequence"]},
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["share", "sequence"], name="permissions_share_i_015652_idx"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
