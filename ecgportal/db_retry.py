"""Answer a read again, once, when the database dropped the connection it was using.

PostgreSQL ends connections on a restart, a failover, an idle timeout or ``pg_terminate_backend``.
Django's CONN_HEALTH_CHECKS replace one that died between requests; one that dies during a
request makes that request fail with OperationalError. A GET or HEAD changes nothing, so it is
run again on a fresh connection instead of answering 500; a write is answered as before, since
part of it may have been saved. An error that leaves the connection working (a statement
timeout, a deadlock) is not retried either.
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.dispatch import receiver

logger = logging.getLogger(__name__)

RETRIED_METHODS = frozenset({"GET", "HEAD"})
_LOST = "_ecg_database_connection_lost"  # set on the request whose handling lost its connection


class RetryReadOnLostConnectionMiddleware:
    """Run a GET or HEAD that failed on a lost database connection once more (first in MIDDLEWARE,
    so every layer that reads the database runs again)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in RETRIED_METHODS:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except (OperationalError, InterfaceError):
            if not _renew_connections(request):  # even the error page needed the lost connection
                raise
        else:
            if not _renew_connections(request):
                return response
            response.close()
        logger.warning("A database connection was lost during %s %s; answering it again", request.method,
                       request.path)
        return self.get_response(request)


@receiver(got_request_exception)
def _note_lost_connection(sender, request=None, **kwargs):
    """Mark the request whose handling failed because the database dropped its connection (sent
    inside Django's ``except`` block, so the exception is at hand)."""
    if request is not None and connection_lost(sys.exc_info()[1]):
        setattr(request, _LOST, True)


def connection_lost(exc):
    """Return whether the database error ``exc`` says the connection itself is gone.

    Django may already have connected again by the time the error is handled (leaving an
    ``atomic`` block does), so the error's SQLSTATE tells, not the connection: class 08
    (connection exception), 57P (the server shut the session down) or none (the client saw the
    socket close). A statement timeout or a deadlock keeps its connection.
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.__cause__, "sqlstate", None) or getattr(exc.__cause__, "pgcode", None)
    return code is None or code.startswith(("08", "57P"))


def _renew_connections(request):
    """Close every database connection when ``request`` lost one; return whether it may run again.

    Not inside a transaction (a test's, or one that outlives the request): its work would be lost.
    """
    opened = list(connections.all(initialized_only=True))
    if not getattr(request, _LOST, False) or any(conn.in_atomic_block for conn in opened):
        return False
    setattr(request, _LOST, False)
    for conn in opened:
        conn.close()
    return True
