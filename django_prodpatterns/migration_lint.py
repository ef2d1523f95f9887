"""Deprecated: the rules of lint_migrations, moved to :mod:`django_prodpatterns.ops.migration_lint`.

Import it from there; this old path keeps working, with a DeprecationWarning.
"""

from ._moved import moved_module

__getattr__, __all__ = moved_module(__name__, "django_prodpatterns.ops.migration_lint")
