"""Django's ``migrate``, with the same autodetector as ``makemigrations`` (Django's check
``commands.E001`` requires the two to agree)."""

from django.core.management.commands.migrate import Command as Migrate

from ...db.autodetector import TenantAwareAutodetector


class Command(Migrate):
    autodetector = TenantAwareAutodetector
