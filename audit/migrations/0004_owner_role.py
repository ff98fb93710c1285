"""Give the audit table to a role the application does not use (see audit.protection).

Done here when the migration runs as a PostgreSQL superuser. Run as the application's own role
(which cannot do it) the migration still succeeds, and prints what an operator runs once.
A no-op on SQLite.
"""

import sys

from django.db import migrations

from audit import protection


def protect(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    instructions = protection.protect(schema_editor.connection)
    if instructions:
        sys.stderr.write(f"\n  WARNING: {instructions}\n")


def unprotect(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        protection.unprotect(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_hash_chain")]

    operations = [migrations.RunPython(protect, unprotect)]
