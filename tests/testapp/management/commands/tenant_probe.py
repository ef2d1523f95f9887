"""A command for tests/test_for_each_tenant.py: prints the tenant it runs for and what the
application role sees of the tenant's projects; fails for the tenants it is told to."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from django_prodpatterns.context import get_current_tenant_pk
from tests.helpers import APP
from tests.testapp.models import Project


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--fail-for", action="append", default=[])
        parser.add_argument("--sleep", type=float, default=0)

    def handle(self, *args, **options):
        tenant = get_current_tenant_pk()
        time.sleep(options["sleep"])
        with connections[APP].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM testapp_project")  # row level security alone
            (raw,) = cursor.fetchone()
        names = ",".join(sorted(Project.objects.using(APP).values_list("name", flat=True)))
        if str(tenant) in options["fail_for"]:
            raise CommandError(f"refused for {tenant}")
        self.stdout.write(f"tenant={tenant} projects={names} raw={raw}")
