"""Benchmark settings: the test settings, on a database of the benchmarks' own."""

from importlib.util import find_spec

from django_prodpatterns.devserver import embedded
from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, SETUP_DATABASE

_local = embedded.prepare(SETUP_DATABASE, database="prodpatterns_bench")
DATABASES = {"default": _local.owner, "app": _local.app}

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.benchapp"]
for peer in ("safedelete", "simple_history", "auditlog", "concurrency"):
    if find_spec(peer) is not None:
        INSTALLED_APPS.append(peer)
