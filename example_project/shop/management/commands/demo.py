"""``manage.py demo``: migrate, create a demo superuser, serve the admin.

Part of the example project only; it is not shipped in the wheel.
"""

import signal
import sys

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from django_prodpatterns.conf import app_settings

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "admin"


CATALOGUE = {
    "Books": [("Dune", "9.99"), ("Solaris", "8.50"), ("Neuromancer", "7.25")],
    "Music": [("Kind of Blue", "12.00"), ("Blue Train", "11.00")],
}


def seed():
    """A small catalogue on first run, so every admin page has something to show."""
    from example_project.shop.models import Category, Product

    if Category.all_objects.exists():
        return
    for name, products in CATALOGUE.items():
        category = Category.objects.create(name=name)
        Product.objects.bulk_create(
            Product(category=category, name=title, price=price) for title, price in products
        )


class Command(BaseCommand):
    help = "Migrate the database, create a demo superuser and serve the admin."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where to serve the admin."
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare the database, then stop."
        )

    def handle(self, *args, addrport, no_serve, verbosity, **options):
        # A plain SIGTERM would skip the exit handlers that stop the embedded PostgreSQL.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

        owner = app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        call_command("migrate", database=owner, interactive=False, verbosity=verbosity)

        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        seed()
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo admin: http://{host}/admin/  user {DEMO_USERNAME!r} "
                f"password {DEMO_PASSWORD!r}"
            )
        )
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
