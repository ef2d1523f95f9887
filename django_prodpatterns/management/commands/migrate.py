"""Django's ``migrate``, guarded against lock waits, and run as the owner.

- Plain ``migrate`` runs on ``PRODPATTERNS["OWNER_DATABASE"]`` when that is set (the role
  that owns the tables); ``--database`` still chooses.
- With a lock or statement timeout (``--lock-timeout 2s``, or ``MIGRATE_LOCK_TIMEOUT`` /
  ``MIGRATE_STATEMENT_TIMEOUT`` in ``PRODPATTERNS``) every migration runs under it. A
  migration that timed out waiting for a lock rolls back and is tried again, up to
  ``--retries`` times with doubling pauses, and each attempt reports the sessions that
  held the lock, with their queries. A non-atomic migration is not retried.
- The autodetector is the one of the app's ``makemigrations`` (Django's check
  ``commands.E001`` requires the two to agree).
"""

import time

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as Migrate
from django.db import DEFAULT_DB_ALIAS, connections

from ...conf import app_settings
from ...db.autodetector import TenantAwareAutodetector
from ...db.guard import LockWatcher, is_lock_timeout

WATCHER_PARAMS = ("dbname", "user", "password", "host", "port", "sslmode", "options")


class Command(Migrate):
    autodetector = TenantAwareAutodetector

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database=None)
        parser.add_argument(
            "--lock-timeout", help="e.g. 2s or 500ms (default: MIGRATE_LOCK_TIMEOUT)"
        )
        parser.add_argument(
            "--statement-timeout", help="e.g. 5min (default: MIGRATE_STATEMENT_TIMEOUT)"
        )
        parser.add_argument("--retries", type=int, help="default: MIGRATE_RETRIES")
        parser.add_argument("--retry-backoff", type=float, help="default: MIGRATE_RETRY_BACKOFF")

    _watcher: LockWatcher | None = None
    _current = None

    def execute(self, *args, **options):
        # Before Django's own checks, which run on the chosen database.
        options["database"] = (
            options.get("database") or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        )
        return super().execute(*args, **options)

    def handle(self, *args, **options):
        lock = _pick(options.pop("lock_timeout", None), app_settings.MIGRATE_LOCK_TIMEOUT)
        statement = _pick(
            options.pop("statement_timeout", None), app_settings.MIGRATE_STATEMENT_TIMEOUT
        )
        retries = _pick(options.pop("retries", None), app_settings.MIGRATE_RETRIES)
        delay = _pick(options.pop("retry_backoff", None), app_settings.MIGRATE_RETRY_BACKOFF)
        if retries < 0:
            raise CommandError("--retries must be 0 or more.")
        connection = connections[options["database"]]
        if connection.vendor != "postgresql" or (lock is None and statement is None):
            return super().handle(*args, **options)
        attempt = 0
        while True:
            try:
                return self._guarded(connection, lock, statement, args, options)
            except Exception as exc:
                if not is_lock_timeout(exc):
                    raise
                migration = self._current
                report = self._report(migration, lock, attempt, retries)
                if attempt >= retries or (migration is not None and not migration.atomic):
                    raise CommandError(report) from exc
                self.stderr.write(f"{report}\nRetrying in {delay:g} s.")
                time.sleep(delay)
                delay, attempt = delay * 2, attempt + 1

    def _guarded(self, connection, lock, statement, args, options):
        connection.ensure_connection()
        params = connection.get_connection_params()
        pid = connection.connection.info.backend_pid
        self._current, self._watcher = (
            None,
            LockWatcher({k: v for k, v in params.items() if k in WATCHER_PARAMS}, pid),
        )
        with connection.cursor() as cursor:
            for name, value in (("lock_timeout", lock), ("statement_timeout", statement)):
                if value is not None:
                    cursor.execute("SELECT set_config(%s, %s, false)", [name, str(value)])
        try:
            with self._watcher:
                return super().handle(*args, **options)
        finally:
            if connection.connection is not None and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("RESET lock_timeout; RESET statement_timeout")

    def migration_progress_callback(self, action, migration=None, fake=False):
        if action in ("apply_start", "unapply_start") and self._watcher is not None:
            self._current = migration
            self._watcher.blockers = []
        super().migration_progress_callback(action, migration, fake)

    def _report(self, migration, lock, attempt, retries):
        name = f"{migration.app_label}.{migration.name}" if migration else "A migration"
        lines = [
            f"{name} waited more than {lock} for a lock (attempt {attempt + 1} of "
            f"{retries + 1}) and was rolled back."
        ]
        blockers = self._watcher.blockers
        if blockers:
            lines += ["Blocked by:", *(f"  {b.describe()}" for b in blockers)]
        else:
            lines.append("The blocking session was gone before it could be seen.")
        return "\n".join(lines)


def _pick(option, setting):
    return setting if option is None else option
