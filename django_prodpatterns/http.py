"""HTTP side of optimistic locking: ETag / If-Match helpers and their errors.

``ConflictMiddleware`` (in :mod:`django_prodpatterns.middleware`) turns these and
``ConflictError`` into 409, 412 and 428 answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

from .exceptions import ProdPatternsError

if TYPE_CHECKING:
    from .models.locking import VersionedModel


class PreconditionFailed(ProdPatternsError):
    """``If-Match`` names another version than the row's (412)."""

    def __init__(self, current: object) -> None:
        self.current = current
        super().__init__(f"If-Match does not match the current version {current}.")


class PreconditionRequired(ProdPatternsError):
    """The view requires ``If-Match`` and the request has none (428)."""

    def __init__(self) -> None:
        super().__init__("This request must carry If-Match with the version it read.")


def etag(obj: VersionedModel) -> str:
    """The weak ETag of a versioned row: ``W/"<version>"``."""
    return f'W/"{obj.version}"'


def check_if_match(request: HttpRequest, obj: VersionedModel, required: bool = True) -> None:
    """Compare the request's ``If-Match`` with ``obj``'s version before a write.

    Raises:
        PreconditionRequired: no If-Match and ``required``.
        PreconditionFailed: If-Match names another version.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired
        return
    tags = {tag.strip() for tag in header.split(",")}
    if "*" in tags:
        return
    wanted = {tag.removeprefix("W/") for tag in tags}
    if f'"{obj.version}"' not in wanted:
        raise PreconditionFailed(obj.version)
