"""Deprecated: moved to :mod:`django_prodpatterns.ops.lock_watch`.

Kept so that existing imports work; importing it warns.
"""

import warnings
from typing import Any

from ..ops import lock_watch as _moved

warnings.warn(
    "django_prodpatterns.db.guard moved to "
    "django_prodpatterns.ops.lock_watch; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
