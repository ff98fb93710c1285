"""No one can quietly change the trail: the application's database role may only add and read
events, and any change made around that (by a superuser, on disk, in a backup) breaks the hash
chain at the changed event, which ``manage.py audit_verify`` names.

Tests and CI connect as ``postgres``, a superuser that bypasses every privilege; so the role
tests log in as ``ecgportal_app_test``, set up as production's application role is: a plain
login role (no superuser, no CREATEROLE) that owns the database and every table but the audit
table (it runs the migrations).
"""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from accounts.services import user_delete
from accounts.tests.factories import DoctorFactory, UserFactory
from audit import protection
from audit.models import AuditEvent
from audit.services import audit_event_create
from audit.tests.factories import AuditEventFactory
from ecgportal.testing import require
from predictions.tests.factories import ECGRecordFactory, link

pytestmark = pytest.mark.django_db

APP_ROLE = "ecgportal_app_test"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres():
    require(connection.vendor == "postgresql", "the audit table's owner role exists in PostgreSQL only")


def _connect(user):
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=s["NAME"], user=user,
        password=s["PASSWORD"] if user == s["USER"] else None, autocommit=True,
    )


@pytest.fixture
def app_role(postgres, transactional_db):
    """Make ``ecgportal_app_test`` the application's role of the test database, as in production."""
    with _connect(connection.settings_dict["USER"]) as su:
        su.execute(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        su.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" OWNER TO {APP_ROLE}')
        tables = su.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() AND tableowner <> %s",
            [protection.OWNER_ROLE],
        ).fetchall()
        for (table,) in tables:
            su.execute(f"ALTER TABLE {table} OWNER TO {APP_ROLE}")
    # What migration 0004 (as a superuser) or an operator's ``audit_protect`` does for that role.
    protection.protect(connection)
    return APP_ROLE


@contextmanager
def _django_as(role):
    """Run the portal's own code connected as ``role``."""
    connection.close()
    user = connection.settings_dict["USER"]
    connection.settings_dict["USER"] = role
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = user


# --- the application's role ------------------------------------------------------------------

REFUSED = [
    "TRUNCATE audit_auditevent",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_auditevent_append_only ON audit_auditevent",
    "UPDATE audit_auditevent SET action = 'download'",
    "UPDATE audit_auditevent SET actor_id = NULL, actor_label = '', actor_salt = '', ip_address = NULL",
    "DELETE FROM audit_auditevent",
    "DROP TABLE audit_auditevent CASCADE",
    "DROP FUNCTION audit_auditevent_append_only() CASCADE",
    "CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
    "ALTER TABLE audit_auditevent OWNER TO ecgportal_app_test",
    "SET ROLE ecgportal_audit_owner",
    "GRANT ecgportal_audit_owner TO ecgportal_app_test",
    "ALTER SCHEMA public OWNER TO ecgportal_app_test",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_the_application_role_cannot_change_or_remove_events(app_role, statement):
    event = AuditEventFactory()
    with _connect(app_role) as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute(statement)
        # Anonymising goes through the one function, which refuses a living account.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="still exists"):
            app.execute("SELECT audit_anonymise_deleted_account(%s)", [event.patient_id])
    event.refresh_from_db()
    assert (AuditEvent.objects.count(), event.action, event.actor_label) == (1, "view", event.actor.get_full_name())


def test_the_application_role_adds_and_reads_events_and_anonymises_deleted_accounts(app_role):
    patient, doctor = UserFactory(first_name="Pat", last_name="Ient"), DoctorFactory()
    link(patient=patient, doctor=doctor)
    record = ECGRecordFactory(owner=patient)
    with _django_as(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app_role
        audit_event_create(actor=doctor, patient=patient, action="view", door="page", object_id=str(record.uuid))
        audit_event_create(actor=patient, patient=patient, action="download", door="api", ip_address="2001:DB8::1")
        assert AuditEvent.objects.count() == 2
        user_delete(user=patient)
        call_command("audit_verify")
    assert sorted(AuditEvent.objects.values_list("patient_id", "patient_label", "actor_label")) == [
        (None, "", ""), (None, "", doctor.get_full_name())
    ]


def test_the_migration_runs_as_the_application_role_and_says_what_an_operator_runs(app_role, capsys):
    call_command("migrate", "audit", "0003", verbosity=0)  # as a superuser: the table is the app's again
    with _django_as(app_role):
        call_command("migrate", "audit", verbosity=0)
        assert "manage.py audit_protect" in capsys.readouterr().err
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
            assert cursor.fetchone()[0] == app_role, "nothing changed: the app role cannot give its table away"
        with pytest.raises(CommandError, match="superuser"):
            call_command("audit_protect")
        call_command("audit_protect", "--sql")
        assert "ALTER TABLE audit_auditevent OWNER TO" in capsys.readouterr().out
    call_command("audit_protect")  # the operator, as a superuser
    with _connect(app_role) as app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("TRUNCATE audit_auditevent")


# --- the hash chain -----------------------------------------------------------------------------


def _tamper(statement, params=()):
    """Change the table as someone who gets past the role and the trigger would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks block ALTER TABLE
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute(statement, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")


def _verify_error():
    with pytest.raises(CommandError) as error:
        call_command("audit_verify")
    return str(error.value)


@pytest.fixture
def three_events():
    return [AuditEventFactory(), AuditEventFactory(action="download"), AuditEventFactory()]


def test_an_untouched_trail_verifies(three_events, capsys):
    call_command("audit_verify")
    assert f"intact: 3 events, up to event {three_events[-1].pk}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("UPDATE audit_auditevent SET action = 'view' WHERE id = %s", "contents were changed"),
        ("UPDATE audit_auditevent SET created_at = created_at - interval '1 hour' WHERE id = %s", "contents were changed"),
        ("UPDATE audit_auditevent SET actor_label = 'Someone Else' WHERE id = %s", "actor"),
        ("UPDATE audit_auditevent SET ip_address = '198.51.100.1' WHERE id = %s", "actor"),
        ("UPDATE audit_auditevent SET patient_label = '', patient_salt = '' WHERE id = %s", "not anonymised"),
    ],
)
def test_audit_verify_names_the_event_that_was_changed(postgres, three_events, statement, reason):
    changed = three_events[1]
    _tamper(statement, [changed.pk])
    message = _verify_error()
    assert f"broken at event {changed.pk} " in message and reason in message


def test_changing_a_person_on_an_event_is_found(three_events):
    """The names and accounts are covered too (through salted digests), not only the action."""
    _tamper("UPDATE audit_auditevent SET actor_id = %s WHERE id = %s", [UserFactory().pk, three_events[0].pk])
    assert f"broken at event {three_events[0].pk} " in _verify_error()


def test_removing_or_rehashing_an_event_breaks_the_link_after_it(three_events):
    first, removed, last = three_events
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [removed.pk])
    message = _verify_error()
    assert f"broken at event {last.pk} " in message and f"does not follow event {first.pk}" in message


def test_a_changed_event_given_a_new_hash_still_breaks_the_chain(three_events):
    from audit import chain

    first, changed, last = three_events
    changed.action = "export"
    chain.seal(changed, changed.prev_hash)  # a forger recomputes the row's own hash
    _tamper(
        "UPDATE audit_auditevent SET action = %s, row_hash = %s WHERE id = %s",
        [changed.action, changed.row_hash, changed.pk],
    )
    assert f"broken at event {last.pk} " in _verify_error()


def test_deleting_accounts_keeps_the_chain_verifiable_and_the_names_out(three_events):
    doctor, patient = three_events[0].actor, three_events[0].patient
    user_delete(user=doctor)
    user_delete(user=patient)
    call_command("audit_verify")
    names = {doctor.get_full_name(), patient.get_full_name()}
    stored = set(AuditEvent.objects.values_list("actor_label", flat=True)) | set(
        AuditEvent.objects.values_list("patient_label", flat=True)
    )
    assert not names & stored


def test_concurrent_events_form_one_chain(postgres, transactional_db):
    """Eight request threads writing at once: each event follows exactly one other (no fork)."""
    doctor, patient = DoctorFactory(), UserFactory()
    errors = []

    def write():
        try:
            for _ in range(15):
                audit_event_create(actor=doctor, patient=patient, action="view", door="page")
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 120
    call_command("audit_verify")


def test_audit_verify_exits_non_zero_naming_the_event(postgres, transactional_db):
    events = [AuditEventFactory(), AuditEventFactory()]
    _tamper("UPDATE audit_auditevent SET object_id = 'elsewhere' WHERE id = %s", [events[0].pk])
    s = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.test",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "audit_verify"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert f"broken at event {events[0].pk} " in done.stderr


def test_the_database_hashes_the_same_text_the_verifier_does():
    """``row_text_around`` splits the canonical text at the previous hash, whatever the values hold."""
    import hashlib

    from django.utils import timezone

    from audit import chain

    event = AuditEvent(actor_role="doctor", action="view", door="api", object_type='re"cord\\',
                       object_id="élan:{\"prev\":\"\"}", created_at=timezone.now())
    chain.seal_sides(event)
    before, after = chain.row_text_around(event)
    prev = hashlib.sha256(b"any").hexdigest()
    assert hashlib.sha256((before + prev + after).encode("ascii")).hexdigest() == chain.row_hash(event, prev)


def test_an_event_is_appended_in_one_statement_and_still_chained(postgres, capsys):
    """Lock, head, id and hash in the INSERT itself: one statement, where it took five (BEGIN, lock,
    head, INSERT, COMMIT); the trail still verifies, each event after the one before it."""
    from django.test.utils import CaptureQueriesContext

    first = AuditEventFactory()
    doctor, patient = DoctorFactory(), UserFactory()
    with CaptureQueriesContext(connection) as queries:
        event = audit_event_create(actor=doctor, patient=patient, action="view", door="api", object_type="ecgrecord",
                                   object_id="a-record", ip_address="2001:DB8::1")
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 1 and statements[0].startswith('INSERT INTO "audit_auditevent"'), statements
    stored = AuditEvent.objects.get(pk=event.pk)
    assert event.pk > first.pk and stored.prev_hash == event.prev_hash == first.row_hash
    assert stored.row_hash == event.row_hash
    assert (stored.actor_id, stored.patient_id, stored.object_id, stored.ip_address) == (
        doctor.pk, patient.pk, "a-record", "2001:db8::1")
    call_command("audit_verify")
    assert "intact: 2 events" in capsys.readouterr().out


def test_the_application_role_migrates_and_appends_in_one_statement_on_a_protected_trail(app_role, capsys):
    """Migration 0005 needs no superuser (it makes a function, not a change to the table), and the
    application's role appends through it."""
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", "audit", "0004", verbosity=0)  # as a superuser: the function is gone
    doctor, patient = DoctorFactory(), UserFactory()
    with _django_as(app_role):
        call_command("migrate", "audit", verbosity=0)
        with CaptureQueriesContext(connection) as queries:
            audit_event_create(actor=doctor, patient=patient, action="view", door="page")
        audit_event_create(actor=patient, patient=patient, action="view", door="api")
        assert len(queries.captured_queries) == 1
        call_command("audit_verify")
    assert "intact: 2 events" in capsys.readouterr().out
    with _connect(app_role) as app, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute("TRUNCATE audit_auditevent")
