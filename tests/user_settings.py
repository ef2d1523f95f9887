"""A user's project in a child process, configured the way the case needs.

``python -m tests.user_settings CASE`` configures Django without a settings module (so no
test server starts), loads the test apps and the zoo, and prints what the case found.
Used by tests/test_zoo_schema.py for what can only be seen in a fresh process: what
happens at model import and what makemigrations writes, with settings left unset.
"""

import sys

import django
from django.conf import settings

APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_prodpatterns",
    "tests.testapp",
    "tests.zoo",
]


def configure(**extra):
    settings.configure(
        INSTALLED_APPS=APPS,
        # Never opened by these cases on Django 5.2 and 6.0; Django 6.1's GeneratedField
        # check reads the server version, which an in-memory SQLite answers.
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        SECRET_KEY="user-settings",
        **extra,
    )
    django.setup()


def written_migration() -> str:
    """What makemigrations would write for the zoo on an empty history."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState
    from django.db.migrations.writer import MigrationWriter

    loader = MigrationLoader(None, ignore_no_migrations=True)
    before = loader.project_state(nodes=None).clone()
    for key in [k for k in before.models if k[0] == "menagerie"]:
        before.remove_model(*key)
    changes = MigrationAutodetector(before, ProjectState.from_apps(apps)).changes(
        graph=loader.graph, trim_to_apps={"menagerie"}, convert_apps={"menagerie"}
    )
    return "\n".join(MigrationWriter(m).as_string() for m in changes["menagerie"])


def main(case: str) -> None:
    if case == "no-tenant-setting":
        configure()
        print(written_migration())
    elif case == "typo":
        configure(PRODPATTERNS={"AUDIT_REDACT_FIELDS": "password", "OWNER_DATBASE": "x"})
        from django.core.management import execute_from_command_line

        execute_from_command_line(["manage.py", "check"])
    else:
        raise SystemExit(f"unknown case {case!r}")


if __name__ == "__main__":
    main(sys.argv[1])
