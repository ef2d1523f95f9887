"""Test databases the way production has them: made and migrated by the owner role.

A project serves requests as the application role (alias ``default``: owns nothing, may
not create databases) and migrates as the owner (``PRODPATTERNS["OWNER_DATABASE"]``).
Django's test set-up creates the test database and runs ``migrate`` through ``default``,
which the application role cannot do. :class:`OwnerTestDatabases` lets every alias that
names the owner's database connect as the owner while the test databases are created and
migrated (and again while they are dropped), then gives each other role of those aliases
its data privileges in the test database, as ``prodpatterns setup`` does in production.
The tests themselves run with each alias's own role, so row-level security holds in them
exactly as it does when the project serves requests.

Used by the pytest plugin (pytest-django) and by :class:`~.runner.DiscoverRunner`
(``manage.py test``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections

from ..conf import app_settings
from ..ops.roles import grant_app_privileges

_CREDENTIALS = ("USER", "PASSWORD")
_SERVER = ("HOST", "PORT", "NAME")


def _server_and_name(settings_dict: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(settings_dict.get(key) or "") for key in _SERVER)


@dataclass
class OwnerTestDatabases:
    """What changes while the test databases are made, and whom to grant afterwards.

    ``owner_alias``: the alias of the owner role. ``borrowers``: the other aliases that name
    the owner's database, with their own credentials, saved while they connect as the
    owner. ``grantees``: the roles of those aliases (and of their test mirrors).
    """

    owner_alias: str
    borrowers: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    grantees: list[str] = field(default_factory=list)
    borrowing: bool = False
    test_name: str | None = None

    @classmethod
    def plan(cls) -> OwnerTestDatabases | None:
        """The plan for this project's ``DATABASES``; ``None`` when there is nothing to do
        (the owner alias is not PostgreSQL)."""
        owner_alias = app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        owner = connections.settings[owner_alias]
        if owner["ENGINE"] != "django.db.backends.postgresql":
            return None
        plan = cls(owner_alias)
        for alias in connections.settings:
            settings_dict = connections.settings[alias]
            if alias == owner_alias or settings_dict["ENGINE"] != owner["ENGINE"]:
                continue
            mirror = (settings_dict.get("TEST") or {}).get("MIRROR")
            shares = _server_and_name(settings_dict) == _server_and_name(owner)
            if not (shares or mirror == owner_alias):
                continue
            if shares and not mirror:
                plan.borrowers[alias] = tuple(settings_dict.get(key) for key in _CREDENTIALS)
            role = settings_dict.get("USER")
            if role and role != owner.get("USER") and role not in plan.grantees:
                plan.grantees.append(role)
        return plan

    def connect_as_owner(self, check: bool = True) -> None:
        """Aliases that name the owner's database connect as the owner from now on
        (``check``: first make sure the owner may create the test databases)."""
        owner = connections.settings[self.owner_alias]
        if check:
            self._check_owner_can_create()
            creation = connections[self.owner_alias].creation
            # Django's own (private, not in django-stubs): the name create_test_db() uses
            self.test_name = creation._get_test_db_name()  # type: ignore[attr-defined]
        for alias in self.borrowers:
            connections[alias].close()
            for key in _CREDENTIALS:
                connections[alias].settings_dict[key] = owner.get(key)
        self.borrowing = True

    def connect_as_themselves(self) -> None:
        """Each alias connects with its own credentials again."""
        for alias, credentials in self.borrowers.items():
            connections[alias].close()
            for key, value in zip(_CREDENTIALS, credentials, strict=True):
                connections[alias].settings_dict[key] = value
        self.borrowing = False

    def grant(self) -> None:
        """Give the other roles their data privileges in the test database (as the owner)."""
        if not self.grantees:
            return
        owner = connections[self.owner_alias]
        params = owner.get_connection_params()
        params["dbname"] = (
            self.test_name or owner.creation._get_test_db_name()  # type: ignore[attr-defined]
        )
        with psycopg.connect(**params, autocommit=True) as conn:
            superusers = {
                name
                for (name,) in conn.execute(
                    "SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolname = ANY(%s)",
                    [self.grantees],
                )
            }
            for role in self.grantees:
                if role not in superusers:
                    grant_app_privileges(conn, role)

    def after_setup(self) -> None:
        """Once the test databases exist and are migrated."""
        self.grant()
        self.connect_as_themselves()

    def before_teardown(self) -> None:
        """Before the test databases are dropped: only the owner may drop them, and no
        connection of this process may still be open on them."""
        connections.close_all()
        self.connect_as_owner(check=False)

    def _check_owner_can_create(self) -> None:
        """One line that says what to do, instead of Django's "permission denied"."""
        owner = connections[self.owner_alias]
        with owner._nodb_cursor() as cursor:
            cursor.execute(
                "SELECT rolcreatedb OR rolsuper FROM pg_catalog.pg_roles"
                " WHERE rolname = current_user"
            )
            (can_create,) = cursor.fetchone()
        if not can_create:
            role = owner.settings_dict.get("USER")
            raise ImproperlyConfigured(
                f"The owner role {role!r} (alias {self.owner_alias!r}) cannot create the test "
                "database: run `python manage.py prodpatterns setup --superuser-url <url> "
                "--for-tests` once."
            )
