"""Settings for the type checker (mypy's django-stubs plugin, ``[tool.django-stubs]``).

The plugin calls ``django.setup()`` to read the models. ``tests/settings.py`` would start
an embedded PostgreSQL (or connect to ``DATABASE_URL``) and create roles just to be
imported, so the type check uses the shared settings with a PostgreSQL ``DATABASES`` that
is never connected to, and without the test apps: the package is checked on its own.
"""

from tests.settings_base import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "typecheck-never-connects",
    },
}

INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("tests.")]  # noqa: F405
