"""Django's ``makemigrations``, with the tenant DDL ordered so that it can run (see
:mod:`django_prodpatterns.db.autodetector`)."""

from django.core.management.commands.makemigrations import Command as MakeMigrations

from ...db.autodetector import TenantAwareAutodetector


class Command(MakeMigrations):
    autodetector = TenantAwareAutodetector
