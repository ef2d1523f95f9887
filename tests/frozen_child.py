"""Child process of tests/test_frozen_sql.py: print what a tree's code makes of migrations.

Run with ``PYTHONPATH`` naming the tree of django_prodpatterns under test first, so that a
copy (edited as a later release would be) is what gets imported. Arguments: each
``APP.MIGRATION`` gets its SQL printed (forwards and backwards, on the server
``DATABASE_URL`` names); after them, for plain app labels, a ``MAKEMIGRATIONS`` line and
what ``makemigrations --dry-run -v 3`` would write for the models as the tree generates
them. The suite's settings, but one database: no roles made, no pool started.
"""

import io
import os
import sys

import django
import environ
from django.conf import settings
from django.core.management import call_command

from tests import settings_base

MAKEMIGRATIONS = "==== makemigrations\n"


def sql_of(migrations: list[list[str]]) -> str:
    """What ``sqlmigrate`` prints for each (app, migration), forwards and backwards."""
    out = io.StringIO()
    for app, name in migrations:
        for backwards in (False, True):
            out.write(f"== {app} {name} backwards={backwards}\n")
            call_command("sqlmigrate", app, name, backwards=backwards, stdout=out)
    return out.getvalue()


def main(argv: list[str]) -> None:
    shared = {name: getattr(settings_base, name) for name in dir(settings_base) if name.isupper()}
    database = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    settings.configure(**shared, DATABASES={"default": database})
    django.setup()
    import django_prodpatterns

    print(f"package {django_prodpatterns.__file__}")
    pairs = [argument.split(".") for argument in argv if "." in argument]
    labels = [argument for argument in argv if "." not in argument]
    out = io.StringIO(sql_of(pairs))
    out.seek(0, io.SEEK_END)
    if labels:
        out.write(MAKEMIGRATIONS)
        call_command("makemigrations", *labels, dry_run=True, verbosity=3, stdout=out)
    print(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
