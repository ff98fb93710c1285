"""Chain the audit events by hash, and narrow anonymisation to accounts that no longer exist.

- New columns (audit.chain): a salted digest of each side, the previous row's hash and this
  row's; existing rows are chained in id order. A unique ``prev_hash`` refuses a fork.
- The trigger now compares every column but the personal ones, and lets those change only when
  they are wholly blanked *and* the account they named no longer exists (before, any row of a
  living user could be blanked).
- ``audit_anonymise_deleted_account(id)``: the one way to anonymise, a function running with
  its owner's rights (migration 0004 gives it to the audit owner role), so the application needs
  no UPDATE right on the table. Deleting a user calls it (audit.signals); the foreign keys are
  DO_NOTHING so Django does not issue its own UPDATE.
SQLite has no trigger or function: there the rule holds by convention (audit.services).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from audit import chain

TRIGGER = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
DECLARE
    users regclass;
    users_key name;
    living boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: DELETE refused' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.created_at, NEW.action, NEW.door, NEW.object_type, NEW.object_id, NEW.actor_role,
        NEW.actor_digest, NEW.patient_digest, NEW.prev_hash, NEW.row_hash)
       IS DISTINCT FROM
       (OLD.id, OLD.created_at, OLD.action, OLD.door, OLD.object_type, OLD.object_id, OLD.actor_role,
        OLD.actor_digest, OLD.patient_digest, OLD.prev_hash, OLD.row_hash) THEN
        RAISE EXCEPTION 'audit events are append-only: only anonymising a deleted account may update them'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The accounts table, found through this table's own foreign key rather than by a name
    -- (whoever owns that table could give its name to another one).
    SELECT c.confrelid::regclass, a.attname INTO users, users_key
      FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = c.confkey[1]
     WHERE c.conrelid = TG_RELID AND c.contype = 'f'
     LIMIT 1;
    IF (NEW.actor_id, NEW.actor_label, NEW.actor_salt, NEW.ip_address)
       IS DISTINCT FROM (OLD.actor_id, OLD.actor_label, OLD.actor_salt, OLD.ip_address) THEN
        IF NOT (NEW.actor_id IS NULL AND NEW.actor_label = '' AND NEW.actor_salt = '' AND NEW.ip_address IS NULL)
           OR OLD.actor_id IS NULL OR users IS NULL THEN
            RAISE EXCEPTION 'audit events are append-only: only anonymising a deleted account may update them'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = $1)', users, users_key) INTO living USING OLD.actor_id;
        IF living THEN
            RAISE EXCEPTION 'audit events are append-only: account % still exists, its events cannot be anonymised', OLD.actor_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF (NEW.patient_id, NEW.patient_label, NEW.patient_salt)
       IS DISTINCT FROM (OLD.patient_id, OLD.patient_label, OLD.patient_salt) THEN
        IF NOT (NEW.patient_id IS NULL AND NEW.patient_label = '' AND NEW.patient_salt = '')
           OR OLD.patient_id IS NULL OR users IS NULL THEN
            RAISE EXCEPTION 'audit events are append-only: only anonymising a deleted account may update them'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = $1)', users, users_key) INTO living USING OLD.patient_id;
        IF living THEN
            RAISE EXCEPTION 'audit events are append-only: account % still exists, its events cannot be anonymised', OLD.patient_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# SECURITY DEFINER with a fixed search_path (the table's schema, then pg_temp): the caller's
# path cannot point it at another table.
ANONYMISE = """
CREATE OR REPLACE FUNCTION audit_anonymise_deleted_account(account_id bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
    UPDATE audit_auditevent SET actor_id = NULL, actor_label = '', actor_salt = '', ip_address = NULL
     WHERE actor_id = account_id;
    UPDATE audit_auditevent SET patient_id = NULL, patient_label = '', patient_salt = ''
     WHERE patient_id = account_id;
$$;
REVOKE ALL ON FUNCTION audit_anonymise_deleted_account(bigint) FROM PUBLIC;
"""


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    prev = chain.GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        chain.seal(event, prev)
        AuditEvent.objects.filter(pk=event.pk).update(
            actor_salt=event.actor_salt, actor_digest=event.actor_digest,
            patient_salt=event.patient_salt, patient_digest=event.patient_digest,
            prev_hash=event.prev_hash, row_hash=event.row_hash,
        )
        prev = event.row_hash


def create_functions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
        schema = cursor.fetchone()[0]
    schema_editor.execute(TRIGGER, params=None)
    schema_editor.execute(ANONYMISE.format(schema=schema), params=None)


def restore_functions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    before = importlib.import_module("audit.migrations.0002_append_only_trigger")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_anonymise_deleted_account(bigint)")
    schema_editor.execute(before.DROP)
    schema_editor.execute(before.CREATE)


def _hash_field(**kwargs):
    return models.CharField(editable=False, default="", **kwargs)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_trigger"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField("auditevent", "actor_salt", _hash_field(max_length=32, blank=True), preserve_default=False),
        migrations.AddField("auditevent", "actor_digest", _hash_field(max_length=64), preserve_default=False),
        migrations.AddField("auditevent", "patient_salt", _hash_field(max_length=32, blank=True), preserve_default=False),
        migrations.AddField("auditevent", "patient_digest", _hash_field(max_length=64), preserve_default=False),
        migrations.AddField("auditevent", "prev_hash", _hash_field(max_length=64), preserve_default=False),
        migrations.AddField("auditevent", "row_hash", _hash_field(max_length=64), preserve_default=False),
        # Runs under the 0002 trigger, which does not yet look at the new columns.
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            "auditevent", models.UniqueConstraint(fields=["prev_hash"], name="auditevent_chain_no_fork")
        ),
        migrations.AlterField(
            "auditevent", "actor",
            models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            "auditevent", "patient",
            models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="audit_events", to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(create_functions, restore_functions),
    ]
