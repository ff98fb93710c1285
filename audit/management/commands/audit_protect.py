"""Give the audit table to a role the application does not use (run with a superuser's DATABASE_URL)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from audit import protection


class Command(BaseCommand):
    help = (
        "Make the audit table owned by the ecgportal_audit_owner role and let the application's role "
        "only INSERT and SELECT. Needs a PostgreSQL superuser; --sql prints the statements instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sql", action="store_true", help="print the SQL for psql instead of running it")
        parser.add_argument("--app-role", help="the application's database role (default: the database's owner)")

    def handle(self, *args, sql, app_role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The audit table's owner role exists in PostgreSQL only.")
        if sql:
            for statement in protection.protection_sql(connection, app_role=app_role):
                self.stdout.write(f"{statement};")
            return
        with transaction.atomic():
            instructions = protection.protect(connection, app_role=app_role)
        if instructions:
            raise CommandError(instructions)
        self.stdout.write(f"The audit table belongs to {protection.OWNER_ROLE}; the application may only insert and read.")
