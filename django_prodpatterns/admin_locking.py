"""Deprecated: the versioned admin, moved to :mod:`django_prodpatterns.admin.locking`.

Import it from there (the admin classes also from ``django_prodpatterns.admin``);
this old path keeps working, with a DeprecationWarning.
"""

from ._moved import moved_module

__getattr__, __all__ = moved_module(
    __name__, "django_prodpatterns.admin.locking", also="django_prodpatterns.admin"
)
