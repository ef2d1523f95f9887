"""Deprecated: moved to :mod:`django_prodpatterns.ops.roles`.

Kept so that existing imports work; importing it warns.
"""

import warnings
from typing import Any

from ..ops import roles as _moved

warnings.warn(
    "django_prodpatterns.db.roles moved to django_prodpatterns.ops.roles; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
