"""The base, argument parsing and output the soft-delete commands share.

:class:`SoftDeleteCommand` is ``soft_delete``, ``restore_deleted`` and ``purge_deleted``'s
base: the options they all take and the order things happen in. Every problem with the
input becomes a ``CommandError`` with one line of text before anything is written, so the
command exits non-zero and the data stays as it was.
"""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from ...conf import app_settings
from ...context import TenantKey, audit_context, get_current_tenant_pk, tenant_context
from ...markers import TENANT_FIELD, is_soft_deletable, is_tenant_scoped
from ...models.tenancy import get_tenant_model

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def soft_delete_model(label: str) -> type[models.Model]:
    """The soft-deletable model named ``app_label.Model``."""
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise CommandError(f"Unknown model {label!r} (expected app_label.ModelName).") from None
    if not is_soft_deletable(model):
        raise CommandError(f"{model._meta.label} is not a soft-delete model.")
    return model


def primary_keys(model: type[models.Model], values: list[str]) -> list[Any]:
    """Convert ``--pk`` values to the model's primary-key type."""
    try:
        return [model._meta.pk.to_python(value) for value in values]
    except ValidationError as exc:
        raise CommandError(
            f"Invalid --pk for {model._meta.label}: {' '.join(exc.messages)}"
        ) from None


def rows_of(model: type[models.Model], using: str) -> models.QuerySet:
    """The rows a command may touch, alive or deleted: for a tenant model inside
    ``--tenant``, that tenant's only, stated in the SQL as well as by row level security
    (which a BYPASSRLS connection would skip)."""
    rows = model._base_manager.using(using)
    tenant = get_current_tenant_pk()
    if tenant is not None and is_tenant_scoped(model):
        rows = rows.filter(**{f"{TENANT_FIELD}_id": tenant})
    return rows


# The tables, of those given, whose rows row-level security filters for this connection
# (not for a superuser or a BYPASSRLS role, nor for an owner without FORCE), in order.
_RLS_ACTIVE_SQL = """
    SELECT u.name FROM unnest(%s::text[]) WITH ORDINALITY AS u(name, n)
    WHERE row_security_active(to_regclass(u.name)) ORDER BY u.n
"""


def require_tenant(
    targets: list[type[models.Model]], using: str, *, every_model: bool = False
) -> None:
    """Fail when row-level security hides the rows of tenant-scoped ``targets`` on ``using``
    because no tenant is set (``--tenant``, or the caller's ``tenant_context``).

    There every row is invisible, so the command would say a row that exists does not
    ("No ... with pk 1") or purge 0 rows night after night while deleted rows pile up. On
    the cross-tenant alias (BYPASSRLS), and for models without a tenant, nothing changes.

    Args:
        targets: The models the command works on.
        using: The database alias.
        every_model: True when the command took every soft-delete model because no
            ``--model`` was given, so the line also offers ``--model``.
    """
    if get_current_tenant_pk() is not None:
        return
    scoped = [model for model in targets if is_tenant_scoped(model)]
    connection = connections[using]
    if not scoped or connection.vendor != "postgresql":
        return
    tables = {connection.ops.quote_name(model._meta.db_table): model for model in scoped}
    with connection.cursor() as cursor:
        cursor.execute(_RLS_ACTIVE_SQL, [list(tables)])
        hidden = [tables[name]._meta.label for (name,) in cursor.fetchall()]
    if hidden:
        raise CommandError(_tenant_required(list(dict.fromkeys(hidden)), using, every_model))


def _tenant_required(labels: list[str], using: str, every_model: bool) -> str:
    if len(labels) == 1:
        subject = f"{labels[0]} is tenant-scoped: row-level security hides its rows"
    else:
        if len(labels) <= 3:
            names = f"{', '.join(labels[:-1])} and {labels[-1]}"
        else:
            names = f"{', '.join(labels[:3])} and {len(labels) - 3} more models"
        subject = f"{names} are tenant-scoped: row-level security hides their rows"
    line = (
        f"{subject} on database {using!r} when no tenant is set. "
        f"Pass --tenant <pk of {get_tenant_model()._meta.label}>"
    )
    cross_tenant = app_settings.ADMIN_DATABASE
    if cross_tenant and cross_tenant != using:
        line += f", or --database {cross_tenant} (the cross-tenant alias)"
    if every_model:
        line += ", or --model for the models that are not tenant-scoped"
    return f"{line}."


def tenant_bound() -> TenantKey | None:
    """The ``--tenant`` to hold the whole cascade in (None without ``--tenant``).

    :func:`rows_of` keeps the rows named on the command line inside the tenant; the rows
    their cascade reaches must be kept there too, at every step and through every kind of
    edge, because a BYPASSRLS connection would not, and a generic relation (or a foreign
    key without a ``(tenant, key)`` constraint) can point from another tenant's row.
    """
    return get_current_tenant_pk()


def existing(model: type[models.Model], pks: list[Any], using: str) -> None:
    """Fail unless every pk exists (alive or deleted)."""
    found = set(rows_of(model, using).filter(pk__in=pks).values_list("pk", flat=True))
    missing = [pk for pk in pks if pk not in found]
    if missing:
        shown = ", ".join(str(pk) for pk in missing)
        raise CommandError(f"No {model._meta.label} with pk {shown}.")


def batch_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"Invalid --batch {value!r}: not a UUID.") from None


def moment(value: str, option: str) -> datetime:
    """A date (midnight, current time zone) or a datetime."""
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"Invalid {option} {value!r}: use YYYY-MM-DD or ISO 8601.")
        parsed = datetime(day.year, day.month, day.day)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def duration(value: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w``."""
    match = _DURATION.match(value)
    if not match:
        raise CommandError(f"Invalid duration {value!r}: use a number and s, m, h, d or w.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def write_counts(stdout: OutputWrapper, counts: dict[str, int]) -> None:
    for label, count in sorted(counts.items()):
        stdout.write(f"  {label}: {count}")


def add_actor_options(parser: CommandParser) -> None:
    """``--actor`` and ``--reason``: who runs the command and why, for the audit trail."""
    parser.add_argument(
        "--actor", help="the user acting (a username of AUTH_USER_MODEL), for the audit trail"
    )
    parser.add_argument("--reason", help="stored with the audit trail")


def command_actor(username: str | None) -> AbstractBaseUser | None:
    """The user ``--actor`` names (``None`` without it), or a one-line error."""
    if username is None:
        return None
    model = get_user_model()
    user = model._default_manager.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(
            f"No user {username!r} (--actor takes a {model._meta.label} {model.USERNAME_FIELD})."
        )
    return user


def command_audit(command: str, actor: object, reason: str | None) -> audit_context:
    """The audit context of a command run: the ``--actor`` user (:func:`command_actor`,
    resolved before anything else is checked) and ``--reason``, and always the command and
    the operating-system user that ran it, so an entry written from a shell says who was
    there even when nobody named an actor."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no name for the process's uid (some containers)
        os_user = None
    return audit_context(actor=actor, reason=reason, command=command, os_user=os_user)


def add_tenant_option(parser: CommandParser) -> None:
    parser.add_argument("--tenant", help="the tenant's primary key: work inside that tenant")


def tenant_scope(value: str | None) -> AbstractContextManager[object]:
    """``tenant_context`` for ``--tenant`` (a no-op context without it)."""
    if value is None:
        return nullcontext()
    model = get_tenant_model()
    try:
        tenant = model._base_manager.filter(pk=value).first()
    except (ValueError, ValidationError):
        tenant = None
    if tenant is None:
        raise CommandError(f"No {model._meta.label} with pk {value!r} (--tenant).")
    return tenant_context(tenant)


class SoftDeleteCommand(BaseCommand):
    """``soft_delete``, ``restore_deleted`` and ``purge_deleted``: which rows, then the
    options they share (``--actor``, ``--reason``, ``--dry-run``, ``--database``,
    ``--tenant``), in one order.

    ``--actor`` is resolved before anything else is checked, so an unknown user fails
    first; the work then runs inside ``--tenant``'s context. A command adds its own
    arguments in :meth:`add_selection` and does its work in :meth:`run`, which receives
    the actor (a user, or None), ``reason`` and its own options.
    """

    dry_run_help = "show, change nothing"
    # The work, inside --tenant's context: each command defines it with its own options
    # as keyword arguments, plus actor (a user, or None) and the shared ones.
    run: Callable[..., None]

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_selection(parser)
        add_actor_options(parser)
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        add_tenant_option(parser)

    def add_selection(self, parser: CommandParser) -> None:
        """The command's own arguments: which rows it works on."""
        raise NotImplementedError

    def handle(
        self, *args: Any, tenant: str | None = None, actor: str | None = None, **options: Any
    ) -> None:
        user = command_actor(actor)  # an unknown --actor fails before anything else
        with tenant_scope(tenant):
            self.run(actor=user, **options)
