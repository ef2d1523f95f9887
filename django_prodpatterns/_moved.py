"""Old import paths that keep working after a module moved: one helper for all of them.

A module that moved leaves a two-line module at its old path::

    from ._moved import moved_module

    __getattr__, __all__ = moved_module(__name__, "django_prodpatterns.ops.roles")

Importing the old path warns once (``DeprecationWarning``, pointing past the old module at
whoever imported it) and every name of the new module, private helpers and the names it
imported included, is read from there, so the very same objects come back. The old module
defines nothing itself: importing it registers nothing twice (the admin's registrations
happen once, in the new module).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable


def moved_module(old: str, new: str, also: str = "") -> tuple[Callable[[str], object], list[str]]:
    """Warn that ``old`` moved to ``new``; return the old module's ``__getattr__`` and
    ``__all__``. ``also`` names another place the names can come from, for the message."""
    where = f" (or {also})" if also else ""
    warnings.warn(
        f"{old} is deprecated: it moved to {new}; import from there{where} instead.",
        DeprecationWarning,
        stacklevel=3,  # past this helper and the old module's body
    )
    target = importlib.import_module(new)

    def __getattr__(name: str) -> object:
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {old!r} has no attribute {name!r}") from None

    return __getattr__, list(getattr(target, "__all__", ()))
