"""Which analyses a live worker is running: a PostgreSQL advisory lock held for the whole task.

The task takes its prediction's lock on its own database session before it starts and lets it go
when it ends. A worker that dies (SIGKILL, out of memory, a container stopped) loses its session,
and PostgreSQL drops the lock with it at once. So the stale sweep tells a running prediction whose
worker is gone within seconds, not after the task's time limit, and a second delivery of a
prediction (a redelivered message, a sweep's resend) cannot analyse it while the first still runs.

Session locks need a session of their own: connect to PostgreSQL directly or through a pooler in
session mode, not in transaction mode. Other databases (SQLite, the embedded default) have no
such lock: ``analysis_claim`` always succeeds and ``claimed_ids`` returns None.
"""

from contextlib import contextmanager

from django.db import DatabaseError, connection

# First key of every analysis lock (pg_locks.classid); the second is the prediction's key. The
# two-key form never meets the one-key locks other modules take (audit.chain).
LOCK_CLASS = 0x45434731  # "ECG1"
_KEY_SPACE = 2**31  # the second key is a signed 32-bit integer


def _key(prediction_id):
    return int(prediction_id) % _KEY_SPACE


def _supported():
    return connection.vendor == "postgresql"


@contextmanager
def analysis_claim(prediction_id):
    """Hold the analysis lock of ``prediction_id`` for the block; yield whether it was free.

    Yield False, holding nothing, when another session holds it: a live worker is on it.
    """
    if not _supported():
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, _key(prediction_id)])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, _key(prediction_id)])
            except DatabaseError:
                pass  # the session is gone, and its lock went with it


def claimed_ids():
    """Return the keys of the predictions a live session holds the lock of; None where unknown."""
    if not _supported():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s"
            " AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_CLASS],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def is_claimed(prediction_id, claimed):
    """Return whether ``prediction_id`` is among ``claimed`` (what ``claimed_ids`` returned)."""
    return _key(prediction_id) in claimed
