"""Settings of the Celery worker that tests/test_tasks_celery.py starts.

The worker must use the pytest session's test database (made by pytest-django, its name
prefixed ``test_``), through the same roles: the session passes its connection settings
as JSON in ``PRODPATTERNS_WORKER_DATABASES``. This module does not import tests/settings.py,
which would start an embedded PostgreSQL (and PgBouncer) of the worker's own.
"""

import json
import os

from tests.settings_base import *  # noqa: F403

DATABASES = json.loads(os.environ["PRODPATTERNS_WORKER_DATABASES"])
