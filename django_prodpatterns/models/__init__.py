"""Abstract model bases, one module per pattern.

Import them from here: ``from django_prodpatterns.models import TimestampedModel``.
"""

from .timestamps import TimestampedModel

__all__ = ["TimestampedModel"]
