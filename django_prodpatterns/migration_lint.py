"""Deprecated: moved to :mod:`django_prodpatterns.ops.migration_lint`.

Kept so that existing imports work; importing it warns.
"""

import warnings
from typing import Any

from .ops import migration_lint as _moved

warnings.warn(
    "django_prodpatterns.migration_lint moved to "
    "django_prodpatterns.ops.migration_lint; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
