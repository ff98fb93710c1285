"""The hash chain over audit events: each event stores the hash of the one before it.

A row's hash is sha256 over a canonical JSON form of its fields and the previous row's hash, so
changing, removing or inserting a row anywhere breaks the chain at that point
(``manage.py audit_verify`` finds where). Rows are chained in id order, under a lock taken in
the inserting transaction, so two concurrent inserts can never claim the same predecessor (a
unique constraint on ``prev_hash`` refuses a fork as well). In PostgreSQL the INSERT itself takes
the lock, reads the head and hashes the row (``AuditEvent._append``, migration 0005): one statement.

Anonymising a deleted account must not break the chain, yet the person's identity must be
covered while they exist. So the chain covers each side (actor, patient) through a digest:
sha256 over a random per-row salt and the side's personal fields. Anonymisation blanks the
fields *and the salt* and keeps the digest: the chain still verifies, and without the salt the
digest cannot be matched against a guessed name. A side with a salt is checked against its
fields; a side without one must be wholly blank.

This module is framework-light on purpose: pure functions over objects with the model's
attributes, plus the lock, so the migration's backfill and the verifier share one definition.
"""

import hashlib
import json
import secrets
from datetime import UTC

GENESIS = "0" * 64
# pg_advisory_xact_lock key of the chain head (any fixed 64-bit number unused elsewhere).
CHAIN_LOCK_KEY = 7_261_756_469_740_001


def _sha256(value):
    return hashlib.sha256(json.dumps(value, separators=(",", ":"), sort_keys=True).encode("ascii")).hexdigest()


def actor_digest(event):
    """Return the digest of who acted: salt, account id, name at the time, address."""
    return _sha256([event.actor_salt, event.actor_id, event.actor_label, event.ip_address])


def patient_digest(event):
    """Return the digest of whose data it was: salt, account id, name at the time."""
    return _sha256([event.patient_salt, event.patient_id, event.patient_label])


def _row_fields(event, prev_hash):
    return {
        "prev": prev_hash,
        "created_at": event.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_role": event.actor_role,
        "actor": event.actor_digest,
        "patient": event.patient_digest,
        "action": event.action,
        "door": event.door,
        "object_type": event.object_type,
        "object_id": event.object_id,
    }


def row_hash(event, prev_hash):
    """Return the hash of ``event`` chained to ``prev_hash`` (its fields in canonical form)."""
    return _sha256(_row_fields(event, prev_hash))


def row_text_around(event):
    """Return ``(before, after)``: for a hexadecimal ``prev_hash`` (every hash is one), ``row_hash``
    is sha256 over ``before + prev_hash + after``. The database uses it to chain a row to the head
    it reads itself, under the lock, in the statement that inserts the row (``AuditEvent.save``)."""
    text = json.dumps(_row_fields(event, ""), separators=(",", ":"), sort_keys=True)
    # Quotes inside values are escaped, so this is the key itself, and there is one.
    before, after = text.split('"prev":""', 1)
    return before + '"prev":"', '"' + after


def seal_sides(event):
    """Give a new ``event`` its salts and the digests of its two sides (the row's own part)."""
    event.actor_salt = event.actor_salt or secrets.token_hex(16)
    event.patient_salt = event.patient_salt or secrets.token_hex(16)
    event.actor_digest = actor_digest(event)
    event.patient_digest = patient_digest(event)


def seal(event, prev_hash):
    """Give a new ``event`` its salts, digests and place in the chain after ``prev_hash``."""
    seal_sides(event)
    event.prev_hash = prev_hash
    event.row_hash = row_hash(event, prev_hash)


def lock_head(connection):
    """Hold the chain head until the current transaction ends (call inside ``atomic``)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        else:
            # SQLite has one writer at a time: a write statement (changing nothing) takes that lock now.
            cursor.execute("UPDATE audit_auditevent SET id = id WHERE id IS NULL")


def _side_problem(event, side):
    salt = getattr(event, f"{side}_salt")
    if salt:
        digest = actor_digest(event) if side == "actor" else patient_digest(event)
        if digest != getattr(event, f"{side}_digest"):
            return f"its {side} (account, name{', address' if side == 'actor' else ''}) was changed after it was written"
        return None
    blank = [getattr(event, f"{side}_id") is None, getattr(event, f"{side}_label") == ""]
    if side == "actor":
        blank.append(event.ip_address is None)
    if not all(blank):
        return f"its {side} has no salt but is not anonymised"
    return None


def first_break(events):
    """Return ``(event, reason)`` for the first of ``events`` (in id order) that breaks the chain, else None."""
    prev, prev_id = GENESIS, None
    for event in events:
        if event.prev_hash != prev:
            after = f"event {prev_id}" if prev_id is not None else "the start of the trail"
            return event, f"it does not follow {after}: an event between them was removed, or one was changed and re-hashed"
        problem = _side_problem(event, "actor") or _side_problem(event, "patient")
        if problem is None and event.row_hash != row_hash(event, event.prev_hash):
            problem = "its contents were changed after it was written"
        if problem:
            return event, problem
        prev, prev_id = event.row_hash, event.pk
    return None
