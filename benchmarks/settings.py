"""Benchmark settings: the test settings, on a database of the benchmarks' own."""

from django_prodpatterns.db import embedded
from tests.settings import *  # noqa: F403
from tests.settings import SETUP_DATABASE

_local = embedded.prepare(SETUP_DATABASE, database="prodpatterns_bench")
DATABASES = {"default": _local.owner, "app": _local.app}
