"""Deprecated: moved to :mod:`django_prodpatterns.devserver.embedded`.

Kept so that existing imports work; importing it warns.
"""

import warnings
from typing import Any

from ..devserver import embedded as _moved

warnings.warn(
    "django_prodpatterns.db.embedded moved to "
    "django_prodpatterns.devserver.embedded; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
