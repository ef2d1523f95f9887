"""``manage.py prune_audit --before DATE``: retention for the append-only audit log.

Runs through the owner alias (``PRODPATTERNS["OWNER_DATABASE"]``), the only role the log's
append-only trigger lets delete, and leaves an entry that says who pruned what. Through any
other role it stops before touching the log, with one line that says which role to use:
the log refuses that role anyway, and row level security would hide most entries from it,
so even a dry run's count would be wrong.
"""

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from ...conf import app_settings
from ...context import get_audit_info, resolve_actor
from ...models.audit import AuditLog
from ._softdelete import command_actor, moment


def check_owner(using: str) -> None:
    """Refuse, in one line, a connection whose role the log's append-only rule refuses.

    The same test as the log's guard trigger: the role has the privileges of the table's
    owner (it is the owner, or a member that inherits from it). Checked before anything is
    read, so that neither the trigger's error nor a count under row level security is shown.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')"
            " FROM pg_catalog.pg_class AS c WHERE c.oid = %s::regclass",
            [connection.ops.quote_name(AuditLog._meta.db_table)],
        )
        role, owner = cursor.fetchone()
    if not owner:
        raise CommandError(
            "prune_audit must run as the owner of the audit log (the role that runs"
            " migrations: the alias in PRODPATTERNS['OWNER_DATABASE'], or --database naming"
            f" it): role {role!r} of database alias {using!r} may not delete from"
            f" {AuditLog._meta.db_table}."
        )


class Command(BaseCommand):
    help = "Delete audit entries older than --before (through the owner alias), audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="YYYY-MM-DD or ISO 8601")
        parser.add_argument(
            "--actor", help="the user acting (a username of AUTH_USER_MODEL), for the entry"
        )
        parser.add_argument("--reason", help="stored with the prune entry")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--database", help="default: OWNER_DATABASE, else default")

    def handle(
        self,
        *args: Any,
        before: str,
        reason: str | None,
        dry_run: bool,
        database: str | None,
        actor: str | None = None,
        **options: Any,
    ) -> None:
        named = command_actor(actor)
        cutoff = moment(before, "--before")
        if cutoff > timezone.now():
            raise CommandError("--before is in the future: that would prune the whole log.")
        using = database or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        check_owner(using)
        old = AuditLog.objects.using(using).filter(timestamp__lt=cutoff)
        if dry_run:
            self.stdout.write(f"Would prune {old.count()} audit entries before {cutoff}.")
            return
        info = get_audit_info()
        acting = named or (resolve_actor(info.actor) if info else None)
        with transaction.atomic(using=using):
            deleted, _ = old.delete()
            AuditLog.objects.using(using).create(
                timestamp=timezone.now(),
                model=AuditLog._meta.label,
                object_pk="*",
                action="prune",
                changes={"before": cutoff.isoformat(), "deleted": deleted},
                actor_id=None if acting is None else str(acting.pk),
                actor_repr=str(acting) if acting is not None else f"os user {getpass.getuser()}",
                reason=reason or (info.reason if info else None),
            )
        self.stdout.write(f"Pruned {deleted} audit entries before {cutoff}.")
