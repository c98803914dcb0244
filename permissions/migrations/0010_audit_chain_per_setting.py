"""One audit chain per setting, every existing entry kept as it is.

The database refuses UPDATE and DELETE on the audit log (0003), so no entry can be
renumbered or re-hashed, and none needs to be: every entry written so far stays, with its
sequence and hash, the start of the installation chain (``chain`` 0, the new column's
default). An installation-chain entry's hash covers exactly the fields it always did;
only a setting chain's entries also hash their chain's key (``permissions.audit_chain``),
so every old entry still verifies, and every anchor written down before this migration
(SEQUENCE:HASH) still names the same entry. New entries of a setting start that setting's
chain at 1. Sequences are now unique per chain, not across the table.

``detail`` becomes unbounded: a page view lists every record the page showed, and the
installation chain's record of every chain's head lists one head per setting.

Adding a column with a constant default fires no row trigger: PostgreSQL keeps the default
in the catalogue, and changing varchar to text rewrites nothing. SQLite alters a column by
rebuilding the table, which drops its triggers, so they are dropped first and made again
last, on every database alike (as 0006 does). SQLite's third trigger, which refuses an
insert landing on an existing entry, now compares places within a chain.

Going back is possible only while no setting has a chain of its own: sequences from two
chains could then no longer be unique across the table.
"""

from django.db import migrations, models

# The triggers as 0003 made them, to drop first and make again if this is undone.
_chain = __import__("permissions.migrations.0003_audit_hash_chain", fromlist=["create_triggers"])

SQLITE_NO_REPLACE = f"""CREATE TRIGGER permissions_auditentry_no_replace
    BEFORE INSERT ON permissions_auditentry
    WHEN EXISTS (SELECT 1 FROM permissions_auditentry WHERE id = NEW.id)
        OR EXISTS (
            SELECT 1 FROM permissions_auditentry
            WHERE chain = NEW.chain AND sequence = NEW.sequence
        )
        OR EXISTS (SELECT 1 FROM permissions_auditentry WHERE entry_hash = NEW.entry_hash)
    BEGIN SELECT RAISE(ABORT, '{_chain.REFUSAL}'); END"""  # noqa: S608 (constants only)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(_chain.POSTGRESQL_TRIGGERS)
    elif vendor == "sqlite":
        # The refusals of UPDATE and DELETE as before; the third with places per chain.
        for statement in _chain.SQLITE_TRIGGERS[:2]:
            schema_editor.execute(statement)
        schema_editor.execute(SQLITE_NO_REPLACE)


class Migration(migrations.Migration):
    dependencies = [
        ("permissions", "0009_view_child"),
    ]

    operations = [
        migrations.RunPython(_chain.drop_triggers, _chain.create_triggers),
        migrations.AlterModelOptions(
            name="auditentry",
            options={"base_manager_name": "objects", "ordering": ["pk"]},
        ),
        migrations.AddField(
            model_name="auditentry",
            name="chain",
            field=models.PositiveBigIntegerField(default=0),
        ),
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
                    ("view_child", "Viewed a child's record on the roll"),
                    ("grant", "Access granted"),
                    ("revoke", "Access revoked"),
                    ("break_glass", "Break-glass access taken"),
                    ("share_created", "Share proposed"),
                    ("share_edited", "Draft changed"),
                    ("share_submitted", "Share submitted for lead review"),
                    ("share_decided", "Decision recorded"),
                    ("share_reconsidered", "Decision reconsidered"),
                    ("reconsideration_requested", "Reconsideration asked for"),
                    ("share_returned", "Share returned for more information"),
                    ("share_released", "Release recorded"),
                    ("share_withdrawn", "Share withdrawn"),
                    ("escalation", "Review escalated"),
                    ("advice_asked", "Advice asked without identity"),
                    ("advice_given", "Advice given"),
                    ("family_informed", "Family told"),
                    ("deadlines_changed", "Setting's review deadlines changed"),
                    ("signed_in", "Signed in"),
                    ("sign_in_failed", "Sign-in failed"),
                    ("locked_out", "Sign-in paused after failed attempts"),
                    ("signed_out", "Signed out"),
                    ("second_factor_set_up", "Second factor set up"),
                    ("second_factor_reset", "Second factor reset"),
                    ("recovery_codes_issued", "New recovery codes issued"),
                    ("password_reset_asked", "Password reset link asked for"),
                    ("password_changed", "Password changed"),
                    ("sign_in_policy_changed", "Setting's sign-in rules changed"),
                    ("pause_lifted", "Sign-in pause lifted"),
                    ("setting_created", "Setting created"),
                    ("setting_changed", "Setting's details changed"),
                    ("staff_invited", "Staff member invited"),
                    ("role_changed", "Staff role changed"),
                    ("membership_ended", "Staff membership ended"),
                    ("child_added", "Child added"),
                    ("child_changed", "Child's details changed"),
                    ("case_opened", "Case opened"),
                    ("case_closed", "Case closed"),
                    ("recipient_added", "Recipient added to the address book"),
                    ("recipient_changed", "Recipient's details changed"),
                    ("recipient_retired", "Recipient retired from the address book"),
                    ("register_imported", "Children or staff imported"),
                    ("searched", "Searched"),
                    ("chain_started", "A setting's audit chain started"),
                    ("chain_heads", "Every audit chain's head recorded"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="detail",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="sequence",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                fields=("chain", "sequence"), name="permissions_audit_one_entry_per_place"
            ),
        ),
        migrations.RunPython(create_triggers, _chain.drop_triggers),
    ]
