"""Deprecated: moved to :mod:`django_prodpatterns.devserver.pgbouncer`.

Kept so that existing imports work; importing it warns.
"""

import warnings
from typing import Any

from ..devserver import pgbouncer as _moved

warnings.warn(
    "django_prodpatterns.db.pgbouncer moved to "
    "django_prodpatterns.devserver.pgbouncer; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
