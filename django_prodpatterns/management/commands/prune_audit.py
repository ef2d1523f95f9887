"""``manage.py prune_audit --before DATE``: retention for the append-only audit log.

Runs through the owner alias (``PRODPATTERNS["OWNER_DATABASE"]``), the only role the log's
append-only trigger lets delete, and leaves an entry that says who pruned what.
"""

import getpass

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from ...conf import app_settings
from ...context import get_audit_info, resolve_actor
from ...models.audit import AuditLog
from ._softdelete import moment


class Command(BaseCommand):
    help = "Delete audit entries older than --before (through the owner alias), audited."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM-DD or ISO 8601")
        parser.add_argument("--reason", help="stored with the prune entry")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--database", help="default: OWNER_DATABASE, else default")

    def handle(self, *args, before, reason, dry_run, database, **options):
        cutoff = moment(before, "--before")
        if cutoff > timezone.now():
            raise CommandError("--before is in the future: that would prune the whole log.")
        using = database or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        old = AuditLog.objects.using(using).filter(timestamp__lt=cutoff)
        if dry_run:
            self.stdout.write(f"Would prune {old.count()} audit entries before {cutoff}.")
            return
        info = get_audit_info()
        actor = resolve_actor(info.actor) if info else None
        with transaction.atomic(using=using):
            deleted, _ = old.delete()
            AuditLog.objects.using(using).create(
                timestamp=timezone.now(),
                model=AuditLog._meta.label,
                object_pk="*",
                action="prune",
                changes={"before": cutoff.isoformat(), "deleted": deleted},
                actor_id=None if actor is None else str(actor.pk),
                actor_repr=str(actor) if actor is not None else f"os user {getpass.getuser()}",
                reason=reason or (info.reason if info else None),
            )
        self.stdout.write(f"Pruned {deleted} audit entries before {cutoff}.")
