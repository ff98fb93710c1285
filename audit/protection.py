"""Give the audit table to a role the application does not use (PostgreSQL only).

The application's role is the database's owner: it runs the migrations and owns every other
table. Owning the audit table as well would let it TRUNCATE it, disable or drop its trigger, or
change its functions. So the table, its sequence and its two functions belong to
``ecgportal_audit_owner``, a role nobody logs in as, and the application may only INSERT and
SELECT (and call the one anonymising function). The schema holding the table must not be the
application's either: a schema's owner may drop any table in it (PostgreSQL 15 gives ``public``
to the database's owner).

Only a superuser can do this. Migration 0004 does it when it runs as one (tests, CI, a
deployment that migrates as a superuser); when it runs as the application's own role it leaves
the table as it is and says what to run: ``manage.py audit_protect`` with a superuser's
``DATABASE_URL``, or ``manage.py audit_protect --sql | psql -U postgres -d <database>``.

What this cannot stop: a role that is a superuser, or has CREATEROLE (it could make itself a
member of the owner role). The application's role must have neither.
"""

OWNER_ROLE = "ecgportal_audit_owner"
TABLE = "audit_auditevent"
TRIGGER_FUNCTION = "audit_auditevent_append_only()"
ANONYMISE_FUNCTION = "audit_anonymise_deleted_account(bigint)"


def _q(name):
    return '"' + name.replace('"', '""') + '"'


def _facts(cursor):
    cursor.execute(
        """
        SELECT pg_get_userbyid(d.datdba),
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
               pg_get_userbyid(c.relowner),
               n.nspname,
               pg_get_userbyid(n.nspowner),
               pg_get_serial_sequence(%s, 'id'),
               (SELECT f.confrelid::regclass::text FROM pg_constraint f
                 WHERE f.conrelid = c.oid AND f.contype = 'f' LIMIT 1),
               (SELECT a.attname FROM pg_constraint f
                  JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = f.confkey[1]
                 WHERE f.conrelid = c.oid AND f.contype = 'f' LIMIT 1)
          FROM pg_database d, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE d.datname = current_database() AND c.oid = %s::regclass
        """,
        [TABLE, TABLE],
    )
    keys = ["app_role", "superuser", "table_owner", "schema", "schema_owner", "sequence", "users", "users_key"]
    return dict(zip(keys, cursor.fetchone(), strict=True))


def protection_sql(connection, *, app_role=None):
    """Return the statements that protect the trail, for ``app_role`` (default: the database's owner)."""
    with connection.cursor() as cursor:
        facts = _facts(cursor)
    app, owner, schema = _q(app_role or facts["app_role"]), _q(OWNER_ROLE), _q(facts["schema"])
    statements = [
        f"DO $$ BEGIN CREATE ROLE {owner} NOLOGIN; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        f"REVOKE {owner} FROM {app}",
    ]
    if facts["schema_owner"] in (app_role or facts["app_role"], "pg_database_owner"):
        statements.append(f"ALTER SCHEMA {schema} OWNER TO {owner}")
    statements += [
        f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {app}",
        f"GRANT USAGE ON SCHEMA {schema} TO {owner}",
        f"ALTER TABLE {TABLE} OWNER TO {owner}",  # its identity sequence follows
        f"ALTER FUNCTION {TRIGGER_FUNCTION} OWNER TO {owner}",
        f"ALTER FUNCTION {ANONYMISE_FUNCTION} OWNER TO {owner}",
        f"REVOKE ALL ON TABLE {TABLE} FROM PUBLIC, {app}",
        f"GRANT SELECT, INSERT ON TABLE {TABLE} TO {app}",
        f"GRANT USAGE ON SEQUENCE {facts['sequence']} TO {app}",
        f"REVOKE ALL ON FUNCTION {ANONYMISE_FUNCTION} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {ANONYMISE_FUNCTION} TO {app}",
        # The trigger checks that an anonymised account no longer exists.
        f"GRANT SELECT ({_q(facts['users_key'])}) ON TABLE {facts['users']} TO {owner}",
    ]
    return statements


def operator_instructions(connection):
    """Return what an operator runs to protect the trail of this database."""
    name = connection.settings_dict["NAME"]
    return (
        "The audit trail is not protected yet: only a PostgreSQL superuser can give the audit table "
        f"to the {OWNER_ROLE} role. Run once, as a superuser:\n"
        f"  DATABASE_URL=postgres://postgres@<host>:5432/{name} python manage.py audit_protect\n"
        f"or: python manage.py audit_protect --sql | psql -U postgres -d {name}"
    )


def protect(connection, *, app_role=None):
    """Protect the trail if this connection is a superuser's; else return what an operator must run.

    Return None once the table belongs to the owner role (now or already).
    """
    with connection.cursor() as cursor:
        facts = _facts(cursor)
        if not facts["superuser"]:
            return None if facts["table_owner"] == OWNER_ROLE else operator_instructions(connection)
        for statement in protection_sql(connection, app_role=app_role):
            cursor.execute(statement)
    return None


def unprotect(connection):
    """Give the table and functions back to the database's owner (reverse of migration 0004)."""
    with connection.cursor() as cursor:
        facts = _facts(cursor)
        if facts["table_owner"] != OWNER_ROLE:
            return
        app = _q(facts["app_role"])
        if facts["schema_owner"] == OWNER_ROLE:
            cursor.execute("SELECT current_setting('server_version_num')::int >= 140000")
            schema_owner = "pg_database_owner" if cursor.fetchone()[0] else app
            cursor.execute(f"ALTER SCHEMA {_q(facts['schema'])} OWNER TO {schema_owner}")
        cursor.execute(f"ALTER TABLE {TABLE} OWNER TO {app}")
        cursor.execute(f"ALTER FUNCTION {TRIGGER_FUNCTION} OWNER TO {app}")
        cursor.execute(f"ALTER FUNCTION {ANONYMISE_FUNCTION} OWNER TO {app}")
