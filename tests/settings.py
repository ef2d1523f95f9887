"""Settings for the test suite.

With ``DATABASE_URL`` set, tests run on that server (its role must be able to create roles);
without it, an embedded PostgreSQL is started in a temporary folder for this run only and
removed when the run ends. Either way the suite connects through three roles:

- ``default``: the owner role (NOSUPERUSER, CREATEDB): creates the test database, migrates,
  owns the tables.
- ``app``: the application role (NOSUPERUSER, NOBYPASSRLS, owns nothing), a mirror of the
  test database. Isolation tests run here, because owners and superusers skip RLS.
- ``cross_tenant``: the BYPASSRLS role (``PRODPATTERNS["ADMIN_DATABASE"]``).
- ``bouncer``: the application role through PgBouncer (transaction pooling), when
  PgBouncer is installed.
- ``setup``: whoever ``DATABASE_URL`` names (the embedded server's superuser otherwise), for
  the role checks' own tests.
"""

import environ

from django_prodpatterns.devserver import embedded, pgbouncer

env = environ.Env()

DATABASE_URL = env.str("DATABASE_URL", default="")
SETUP_DATABASE = env.db_url_config(DATABASE_URL) if DATABASE_URL else embedded.start_server()
_local = embedded.prepare(SETUP_DATABASE)  # creates the owner and app roles

DATABASES = {
    "default": _local.owner,
    "app": {**_local.app, "TEST": {"MIRROR": "default"}},
    "setup": {**_local.admin, "TEST": {"MIRROR": "default"}},
    "cross_tenant": {**_local.cross_tenant, "TEST": {"MIRROR": "default"}},
    "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}

# The application role again, through PgBouncer in transaction pooling mode, when it is
# installed (.ci/run installs it). Isolation tests run on this alias too.
_bouncer = pgbouncer.start(_local.app, users=[_local.app["USER"]])
if _bouncer is not None:
    DATABASES["bouncer"] = {**_local.app, **_bouncer, "TEST": {"MIRROR": "default"}}

from tests.settings_base import *  # noqa: E402, F403
