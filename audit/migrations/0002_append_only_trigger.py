"""Make the audit trail append-only in PostgreSQL.

DELETE always raises. UPDATE raises unless it only anonymises a row: ``actor_id``,
``patient_id`` and ``ip_address`` may become NULL and the name labels may become blank (what
deleting an account does); every other column must stay as it was. SQLite (the embedded
development default) has no trigger: there the rule holds by convention only.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events are append-only: DELETE refused' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.id = OLD.id
       AND NEW.action = OLD.action
       AND NEW.door = OLD.door
       AND NEW.object_type = OLD.object_type
       AND NEW.object_id = OLD.object_id
       AND NEW.created_at = OLD.created_at
       AND NEW.actor_role = OLD.actor_role
       AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
       AND (NEW.patient_id IS NULL OR NEW.patient_id IS NOT DISTINCT FROM OLD.patient_id)
       AND (NEW.ip_address IS NULL OR NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address)
       AND (NEW.actor_label = '' OR NEW.actor_label = OLD.actor_label)
       AND (NEW.patient_label = '' OR NEW.patient_label = OLD.patient_label)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: only anonymisation may update them'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_auditevent_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
