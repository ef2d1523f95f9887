"""``manage.py seed_demo [--orders N]``: the demo stores, staff and data (idempotent)."""

import time

from django.core.management.base import BaseCommand, CommandError

from example_project.shop.seed import seed


class Command(BaseCommand):
    help = "Seed the two demo stores with staff, customers, products and orders."

    def add_arguments(self, parser):
        parser.add_argument(
            "--orders",
            type=int,
            default=2000,
            help="orders in all, split between the stores (existing ones count)",
        )

    def handle(self, *args, orders, **options):
        if orders < 0:
            raise CommandError("--orders must be 0 or more.")
        start = time.perf_counter()
        created = seed(orders)
        self.stdout.write(
            f"Seeded {sum(created.values())} orders in {time.perf_counter() - start:.1f} s."
        )
