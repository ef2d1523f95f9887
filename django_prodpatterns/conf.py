"""The one settings accessor.

Everything the app reads from the project lives in one ``PRODPATTERNS`` dict, except
``PRODPATTERNS_TENANT_MODEL``, which sits at the top level (like ``AUTH_USER_MODEL``) because
Django's swappable machinery looks for it there. Nothing here writes into
``django.conf.settings``; tests change settings with ``override_settings`` and the cache
below follows them through the ``setting_changed`` signal.

``ADMIN_DATABASE`` is the cross-tenant alias (a role with BYPASSRLS), named for the Django
admin that uses it; it is not the superuser. Its name is public and stays; inside the app
the role and the alias are called "cross-tenant".

Usage::

    from django_prodpatterns.conf import app_settings
    app_settings.OWNER_DATABASE
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SETTINGS_NAME = "PRODPATTERNS"
TENANT_MODEL_SETTING = "PRODPATTERNS_TENANT_MODEL"
DEFAULT_TENANT_MODEL = "prodpatterns.Tenant"

DEFAULTS: dict[str, object] = {
    # How a request names its tenant: a dotted path to a callable(request) -> tenant | None.
    "TENANT_RESOLVER": "django_prodpatterns.resolvers.from_user",
    # The attribute of request.user that holds the user's tenant.
    "TENANT_USER_ATTRIBUTE": "tenant",
    # The cross-tenant alias (a role with BYPASSRLS), named for the Django admin that uses
    # it: cross_tenant() and staff acting for a tenant. None: no cross-tenant access.
    "ADMIN_DATABASE": None,
    # The alias that owns the tables and runs migrations; None: the default alias does.
    "OWNER_DATABASE": None,
    # Field names redacted from the audit trail in every model.
    "AUDIT_REDACT_FIELDS": (),
    # Addresses of proxies whose X-Forwarded-For is believed.
    "AUDIT_TRUSTED_PROXIES": (),
    # The request header that carries a request id (one is generated when it is absent).
    "AUDIT_REQUEST_ID_HEADER": "X-Request-ID",
    # What a CASCADE soft delete does with children that cannot be soft-deleted.
    "SOFT_DELETE_PLAIN_CHILDREN": {},
    # Guards applied to the plain ``migrate`` command (PostgreSQL interval strings or ms).
    "MIGRATE_LOCK_TIMEOUT": None,
    "MIGRATE_STATEMENT_TIMEOUT": None,
    "MIGRATE_RETRIES": 0,
    # Seconds before the first retry of a migration that timed out on a lock (then doubled).
    "MIGRATE_RETRY_BACKOFF": 1.0,
    # Migration checks to skip: {"app_label.migration_name": {"rule-id": "why"}}.
    "MIGRATION_LINT_ALLOW": {},
    # Citus mode: tenant models distributed by their tenant column, the tenant model a
    # reference table, and the channel in the form Citus forwards to its workers.
    "CITUS": False,
}

_PLAIN_CHILD_CHOICES = ("error", "hard", "keep")


def _is_optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_str_sequence(value: object) -> bool:
    return isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(item, str) for item in value
    )


def _is_plain_children(value: object) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and choice in _PLAIN_CHILD_CHOICES for key, choice in value.items()
    )


def _is_timeout(value: object) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# key -> (predicate, what a valid value looks like)
VALIDATORS: dict[str, tuple[Callable[[object], bool], str]] = {
    "TENANT_RESOLVER": (lambda v: isinstance(v, str) and "." in v, "a dotted path"),
    "TENANT_USER_ATTRIBUTE": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "ADMIN_DATABASE": (_is_optional_str, "a database alias or None"),
    "OWNER_DATABASE": (_is_optional_str, "a database alias or None"),
    "AUDIT_REDACT_FIELDS": (_is_str_sequence, "a sequence of field names"),
    "AUDIT_TRUSTED_PROXIES": (_is_str_sequence, "a sequence of addresses"),
    "AUDIT_REQUEST_ID_HEADER": (lambda v: isinstance(v, str) and v != "", "a header name"),
    "SOFT_DELETE_PLAIN_CHILDREN": (
        _is_plain_children,
        'a dict of "app_label.Model" to one of ' + ", ".join(_PLAIN_CHILD_CHOICES),
    ),
    "MIGRATE_LOCK_TIMEOUT": (_is_timeout, "None, milliseconds or a PostgreSQL interval"),
    "MIGRATE_STATEMENT_TIMEOUT": (_is_timeout, "None, milliseconds or a PostgreSQL interval"),
    "MIGRATE_RETRIES": (_is_count, "a whole number >= 0"),
    "MIGRATE_RETRY_BACKOFF": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v >= 0,
        "a number of seconds >= 0",
    ),
    "MIGRATION_LINT_ALLOW": (
        lambda v: isinstance(v, Mapping) and all(isinstance(r, Mapping) for r in v.values()),
        'a dict of "app_label.migration" to a dict of rule id to reason',
    ),
    "CITUS": (lambda v: isinstance(v, bool), "True or False"),
}


def validate(user_settings: object) -> list[str]:
    """Return one sentence per problem with a ``PRODPATTERNS`` value (empty when valid)."""
    if not isinstance(user_settings, Mapping):
        return [f"{SETTINGS_NAME} must be a dict, not {type(user_settings).__name__}."]
    problems = []
    for key in user_settings:
        if key not in DEFAULTS:
            known = ", ".join(sorted(DEFAULTS))
            problems.append(f"{SETTINGS_NAME}[{key!r}] is not a known setting (known: {known}).")
    for key, (is_valid, expected) in VALIDATORS.items():
        if key in user_settings and not is_valid(user_settings[key]):
            problems.append(
                f"{SETTINGS_NAME}[{key!r}] must be {expected}, got {user_settings[key]!r}."
            )
    return problems


class AppSettings:
    """Read-only view of ``PRODPATTERNS`` merged over :data:`DEFAULTS`.

    Invalid settings raise :class:`~django.core.exceptions.ImproperlyConfigured` when read,
    so a typo can never be silently ignored; ``manage.py check`` reports the same problems
    as ``prodpatterns.E002`` without raising.
    """

    # The settings' types, as validate() admits them (read through __getattr__).
    TENANT_RESOLVER: str
    TENANT_USER_ATTRIBUTE: str
    ADMIN_DATABASE: str | None  # the cross-tenant alias, not the superuser's
    OWNER_DATABASE: str | None
    AUDIT_REDACT_FIELDS: Collection[str]
    AUDIT_TRUSTED_PROXIES: Collection[str]
    AUDIT_REQUEST_ID_HEADER: str
    SOFT_DELETE_PLAIN_CHILDREN: Mapping[str, str]
    MIGRATE_LOCK_TIMEOUT: str | int | None
    MIGRATE_STATEMENT_TIMEOUT: str | int | None
    MIGRATE_RETRIES: int
    MIGRATE_RETRY_BACKOFF: float
    MIGRATION_LINT_ALLOW: Mapping[str, Mapping[str, str]]
    CITUS: bool

    def __init__(self) -> None:
        self._merged: dict[str, object] | None = None

    def user_settings(self) -> Any:  # whatever the project's settings hold
        return getattr(settings, SETTINGS_NAME, {})

    def _load(self) -> dict[str, object]:
        if self._merged is None:
            user_settings = self.user_settings()
            problems = validate(user_settings)
            if problems:
                raise ImproperlyConfigured(" ".join(problems))
            self._merged = {**DEFAULTS, **user_settings}
        return self._merged

    def __getattr__(self, name: str) -> Any:  # the types are declared above
        if name not in DEFAULTS:
            raise AttributeError(f"{SETTINGS_NAME} has no setting {name!r}")
        return self._load()[name]

    def while_models_load(self, name: str) -> Any:  # the setting's type (declared above)
        """A setting read while model classes are built: the user's value when it is valid,
        the default otherwise.

        Raising there would turn a typo into a traceback at import, before ``manage.py
        check`` can report it; ``prodpatterns.E002`` reports it instead, and stops
        ``makemigrations`` and ``migrate`` before the fallback could be written anywhere.
        """
        user_settings = self.user_settings()
        if isinstance(user_settings, Mapping) and name in user_settings:
            is_valid = VALIDATORS.get(name, (lambda v: True, ""))[0]
            if is_valid(user_settings[name]):
                return user_settings[name]
        return DEFAULTS[name]

    @property
    def citus(self) -> bool:
        """Citus mode. Read by the channel with every statement, so it never raises: an
        invalid ``PRODPATTERNS`` reads as the default here (``prodpatterns.E002`` reports
        it)."""
        try:
            return bool(self._load()["CITUS"])
        except ImproperlyConfigured:
            return bool(self.while_models_load("CITUS"))

    @property
    def tenant_model(self) -> str:
        """The ``app_label.Model`` label of the tenant model."""
        return getattr(settings, TENANT_MODEL_SETTING, DEFAULT_TENANT_MODEL)

    def reload(self) -> None:
        self._merged = None


app_settings = AppSettings()


@receiver(setting_changed)
def _reload_app_settings(*, setting: str, **kwargs: object) -> None:
    if setting in (SETTINGS_NAME, TENANT_MODEL_SETTING):
        app_settings.reload()
