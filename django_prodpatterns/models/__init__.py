"""Abstract model bases, one module per pattern.

Import them from here: ``from django_prodpatterns.models import SoftDeleteModel``.
"""

from .softdelete import SoftDeleteModel, alive_index, alive_unique
from .timestamps import TimestampedModel

__all__ = ["SoftDeleteModel", "TimestampedModel", "alive_index", "alive_unique"]
