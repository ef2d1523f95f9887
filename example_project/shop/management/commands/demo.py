"""``manage.py demo``: migrate, seed the demo stores, serve the admin.

Part of the example project only; it is not shipped in the wheel.
"""

import signal
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from django_prodpatterns.conf import app_settings
from example_project.shop.seed import STORES, seed

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "admin"


class Command(BaseCommand):
    help = "Migrate the database, seed two demo stores with their staff and serve the admin."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where to serve the admin."
        )
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare the database, then stop."
        )
        parser.add_argument(
            "--orders", type=int, default=2000, help="demo orders in all (default 2000)"
        )

    def handle(self, *args, addrport, no_serve, orders, verbosity, **options):
        # A plain SIGTERM, or the SIGHUP of a terminal that closes, would skip the exit
        # handlers that stop the embedded PostgreSQL.
        for name in ("SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), lambda *_: sys.exit(0))

        owner = app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
        call_command("migrate", database=owner, interactive=False, verbosity=verbosity)

        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        start = time.perf_counter()
        created = seed(orders, out=self.stdout)
        self.stdout.write(
            f"Seeded {sum(created.values())} new orders in {time.perf_counter() - start:.1f} s."
        )
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        lines = [f"Demo admin: http://{host}/admin/"]
        for spec in STORES:
            lines.append(f"  {spec.name} staff: user {spec.staff!r} password {spec.staff!r}")
        lines.append(
            f"  superuser (stores and users, no store's rows): user {DEMO_USERNAME!r} "
            f"password {DEMO_PASSWORD!r}"
        )
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
