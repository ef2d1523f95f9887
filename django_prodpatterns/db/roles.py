"""Deprecated: database roles and grants, moved to :mod:`django_prodpatterns.ops.roles`.

Import it from there; this old path keeps working, with a DeprecationWarning.
"""

from .._moved import moved_module

__getattr__, __all__ = moved_module(__name__, "django_prodpatterns.ops.roles")
