"""Deprecated: the embedded PostgreSQL (demo, tests), moved to
:mod:`django_prodpatterns.devserver.embedded`.

Import it from there; this old path keeps working, with a DeprecationWarning.
"""

from .._moved import moved_module

__getattr__, __all__ = moved_module(__name__, "django_prodpatterns.devserver.embedded")
