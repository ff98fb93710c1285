"""Append an audit event in one statement (issue 23): ``audit_chain_next()`` takes the chain's lock,
then reads the head and draws the new row's id, both after the lock (this function is volatile, so
each of its queries sees what committed before it). ``AuditEvent.save`` inserts the row from it and
has PostgreSQL hash the row text around the head (``audit.chain.row_text_around``): one INSERT
instead of BEGIN, lock, head, INSERT, COMMIT. The chain, its lock and its order are as before.

The function reads the table and takes a lock; it gives no right the application lacks, so it
belongs to whoever runs the migrations. SQLite keeps the Python path (``AuditEvent.save``).
"""

from django.db import migrations

from audit import chain

CREATE = f"""
CREATE OR REPLACE FUNCTION audit_chain_next(OUT next_id bigint, OUT head_hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    -- Held until the calling transaction ends, as audit.chain.lock_head holds it.
    PERFORM pg_advisory_xact_lock({chain.CHAIN_LOCK_KEY});
    SELECT e.row_hash INTO head_hash FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
    head_hash := coalesce(head_hash, '{chain.GENESIS}');
    -- Drawn under the lock too, so ids follow the chain's order.
    next_id := nextval(pg_get_serial_sequence('audit_auditevent', 'id'));
END;
$$;
"""

DROP = "DROP FUNCTION IF EXISTS audit_chain_next()"


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_owner_role")]

    operations = [migrations.RunPython(create_function, drop_function)]
