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
- On PostgreSQL, before anything is written, a role that does not own the tables, or that
  may not create them, is stopped with one line naming the alias, the role and what to do
  (see :func:`refusal`), instead of failing half-way with a traceback.
"""

import time
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands.migrate import Command as Migrate
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder

from ...conf import app_settings
from ...db.autodetector import TenantAwareAutodetector
from ...ops.lock_watch import LockWatcher, is_lock_timeout

WATCHER_PARAMS = ("dbname", "user", "password", "host", "port", "sslmode", "options")

_T = TypeVar("_T")


class Command(Migrate):
    autodetector = TenantAwareAutodetector

    def add_arguments(self, parser: CommandParser) -> None:
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
    _current: Migration | None = None

    def execute(self, *args: Any, **options: Any) -> str | None:
        # Before Django's own checks, which run on the chosen database.
        options["database"] = (
            options.get("database") or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        )
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> str | None:
        lock = _pick(options.pop("lock_timeout", None), app_settings.MIGRATE_LOCK_TIMEOUT)
        statement = _pick(
            options.pop("statement_timeout", None), app_settings.MIGRATE_STATEMENT_TIMEOUT
        )
        retries = _pick(options.pop("retries", None), app_settings.MIGRATE_RETRIES)
        delay = _pick(options.pop("retry_backoff", None), app_settings.MIGRATE_RETRY_BACKOFF)
        if retries < 0:
            raise CommandError("--retries must be 0 or more.")
        connection = connections[options["database"]]
        if connection.vendor == "postgresql" and not (
            options["plan"] or options["check_unapplied"]  # these only read
        ):
            problem = refusal(connection)
            if problem is not None:
                raise CommandError(problem)
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

    def _guarded(
        self,
        connection: BaseDatabaseWrapper,
        lock: str | int | None,
        statement: str | int | None,
        args: tuple[Any, ...],
        options: dict[str, Any],
    ) -> str | None:
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

    def migration_progress_callback(
        self, action: str, migration: Migration | None = None, fake: bool = False
    ) -> None:
        if action in ("apply_start", "unapply_start") and self._watcher is not None:
            self._current = migration
            self._watcher.blockers = []
        super().migration_progress_callback(action, migration, fake)

    def _report(
        self, migration: Migration | None, lock: str | int | None, attempt: int, retries: int
    ) -> str:
        name = f"{migration.app_label}.{migration.name}" if migration else "A migration"
        lines = [
            f"{name} waited more than {lock} for a lock (attempt {attempt + 1} of "
            f"{retries + 1}) and was rolled back."
        ]
        blockers = self._watcher.blockers if self._watcher is not None else []
        if blockers:
            lines += ["Blocked by:", *(f"  {b.describe()}" for b in blockers)]
        else:
            lines.append("The blocking session was gone before it could be seen.")
        return "\n".join(lines)


def _pick(option: _T | None, setting: _T) -> _T:
    return setting if option is None else option


# Who the connection is, who owns the migration history table (NULL: there is none yet),
# and whether the role may create tables where Django would create them.
_MIGRATOR_SQL = """
    SELECT current_user, r.rolsuper, current_database(), pg_get_userbyid(d.datdba),
           current_schema(), has_schema_privilege(current_schema(), 'CREATE'),
           pg_get_userbyid(c.relowner), pg_has_role(c.relowner, 'USAGE')
    FROM pg_roles AS r
    CROSS JOIN pg_database AS d
    LEFT JOIN pg_class AS c ON c.oid = to_regclass(%s)
    WHERE r.rolname = current_user AND d.datname = current_database()
"""


def refusal(connection: BaseDatabaseWrapper) -> str | None:
    """Why ``connection``'s role cannot migrate, as one line that says what to do; None
    when it can (as far as the catalog tells before anything is written).

    Two mistakes are common and end in a traceback half-way otherwise, after earlier
    migrations of the run were applied (or, worse, recorded without their DDL by a router):
    migrating through the application role, whose tables belong to the owner; and a
    database the owner cannot create in (PostgreSQL 15+ lets only the database owner create
    in ``public``). A superuser passes: it can do both, and E001 speaks about it.
    """
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_MIGRATOR_SQL, [table])
        row = cursor.fetchone()
    role, is_superuser, database, database_owner, schema, can_create, owner, member = row
    if is_superuser:
        return None
    alias = connection.alias
    if owner is not None:
        if member:
            return None
        return (
            f"Database {alias!r} connects as {role!r}, which does not own the tables (they "
            f"belong to {owner!r}): {_migrate_as(owner, connection.settings_dict)}."
        )
    if can_create is False:  # None: no schema to create in; Django says that itself
        return (
            f"Database {alias!r} connects as {role!r}, which may not create tables in schema "
            f"{schema!r} of database {database!r} (it belongs to {database_owner!r}): "
            f"{_let_create(alias, role, database_owner, connection.settings_dict)}."
        )
    return None


def _migrate_as(owner: str, settings_dict: Mapping[str, Any]) -> str:
    """What to run instead: migrate through the alias that connects as ``owner``."""
    aliases = [name for name in connections if _connects_as(name, owner, settings_dict)]
    configured = app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
    if not aliases:
        return (
            f"add an alias that connects as {owner!r} to DATABASES, name it in "
            "PRODPATTERNS['OWNER_DATABASE'] and run `python manage.py migrate`"
        )
    chosen = configured if configured in aliases else aliases[0]
    run = f"run `python manage.py migrate --database {chosen}`"
    if chosen == configured:
        return run
    return (
        f"{run}, and set PRODPATTERNS['OWNER_DATABASE'] = {chosen!r} so that plain migrate uses it"
    )


def _connects_as(alias: str, role: str, settings_dict: Mapping[str, Any]) -> bool:
    """Whether ``alias`` is configured to reach the same database as ``role`` (read from
    DATABASES only: nothing is connected to)."""
    entry = connections[alias].settings_dict
    user = entry.get("OPTIONS", {}).get("assume_role") or entry.get("USER")
    return (
        connections[alias].vendor == "postgresql"
        and user == role
        and all(
            str(entry.get(key) or "") == str(settings_dict.get(key) or "")
            for key in ("NAME", "HOST", "PORT")
        )
    )


def _let_create(
    alias: str, role: str, database_owner: str, settings_dict: Mapping[str, Any]
) -> str:
    """What makes the tables creatable: ``prodpatterns setup`` gives the database to the
    owner role, which only the alias named as the owner's can be (it reads that setting)."""
    configured = app_settings.OWNER_DATABASE
    setup = (
        f"`python manage.py prodpatterns setup --superuser-url {superuser_url_hint(settings_dict)}`"
    )
    if configured == alias:
        what = f"to make {role!r} its owner" if database_owner != role else "to let it create there"
        return f"run {setup} {what}"
    if configured is not None:
        return f"run `python manage.py migrate --database {configured}`"
    return (
        "set PRODPATTERNS['OWNER_DATABASE'] to the alias of the role that should own the "
        f"tables, then run {setup}"
    )


def superuser_url_hint(settings_dict: Mapping[str, Any]) -> str:
    """A ``--superuser-url`` for the server of ``settings_dict``, the superuser left to fill
    in (its name is nowhere in the settings)."""
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or "5432"
    if host.startswith("/"):  # a Unix socket directory
        return f"postgres://<superuser>@/postgres?host={quote(host, safe='')}&port={port}"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"postgres://<superuser>@{host}:{port}/postgres"
