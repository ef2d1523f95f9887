"""Optimistic locking through Django REST framework: ``version`` in, 409/412/428 out.

A plain ``ModelSerializer`` makes ``version`` read-only (the model field is not editable),
so a client cannot say which version it edited and a stale ``PATCH`` silently wins.

- :class:`VersionedSerializerMixin` (and :class:`VersionedModelSerializer`) carries
  ``version`` both ways: out on every representation, in on updates, where it is
  required. The save then runs ``UPDATE ... WHERE version = <the client's>``, so a stale
  version writes nothing and raises ``ConflictError`` (409), with no extra SELECT before.
- :class:`VersionedAPIViewMixin` honours ``If-Match`` on writes (412 when stale, 428 when
  ``if_match_required`` and missing), sets ``ETag`` on responses that carry one row, and
  answers ``ConflictError`` with 409 in DRF's error format, as ``ConflictMiddleware`` does
  outside DRF (409 and the current version as ``ETag``).

A missing ``version`` on update is a 400 (``{"version": ["This field is required."]}``),
DRF's answer for any missing required field, unless the request's ``If-Match`` already
named the version: then the body may leave it out. 428 stays what ``If-Match`` is about:
a view that sets ``if_match_required`` refuses writes without the header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from ..exceptions import ConflictError
from ..http import PreconditionFailed, PreconditionRequired, check_if_match, etag
from ..markers import VERSION

if TYPE_CHECKING:
    from rest_framework.request import Request

    from ..models.locking import VersionedModel

# Serializer context key: the view checked the request's If-Match against the row.
IF_MATCH_CHECKED = "prodpatterns_if_match_checked"


class Conflict(APIException):
    """A write based on a stale version (``ConflictError``): 409."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The row was changed by someone else."
    default_code = "conflict"


class PreconditionFailedError(APIException):
    """``If-Match`` names another version than the row's: 412."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "If-Match does not match the current version."
    default_code = "precondition_failed"


class PreconditionRequiredError(APIException):
    """The view requires ``If-Match`` and the request has none: 428."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "This request must carry If-Match with the version it read."
    default_code = "precondition_required"


class VersionedSerializerMixin:
    """Make ``version`` writable and required on update, for ``VersionedModel`` serializers.

    ``version`` is added to the fields whether or not ``Meta.fields`` lists it: a
    serializer of a versioned model that forgot it would bring back the silent overwrite.
    On create it is ignored (a new row starts at version 1). On update the client's
    version becomes the one the save checks, in ``save()``, so ``create()`` and
    ``update()`` overrides never see it.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # type: ignore[misc]
        fields[VERSION] = serializers.IntegerField(min_value=1, required=False)
        return fields

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)  # type: ignore[misc]
        # Checked here and not by required=True: DRF skips required fields on PATCH.
        if (
            self.instance is not None  # type: ignore[attr-defined]
            and value.get(VERSION) is None
            and not self.context.get(IF_MATCH_CHECKED)  # type: ignore[attr-defined]
        ):
            field = self.fields[VERSION]  # type: ignore[attr-defined]
            raise serializers.ValidationError(
                {VERSION: [field.error_messages["required"]]}, code="required"
            )
        return value

    def save(self, **kwargs: Any) -> VersionedModel:
        version = self.validated_data.pop(VERSION, None)  # type: ignore[attr-defined]
        instance = self.instance  # type: ignore[attr-defined]
        if instance is not None and version is not None:
            # The save's UPDATE is checked against this version; VersionedModel refuses a
            # version changed behind its back unless the loaded one says the same.
            instance.version = instance._loaded_version = version
        return super().save(**kwargs)  # type: ignore[misc]


class VersionedModelSerializer(VersionedSerializerMixin, serializers.ModelSerializer):
    """A ``ModelSerializer`` for ``VersionedModel``s; see :class:`VersionedSerializerMixin`."""


class VersionedAPIViewMixin:
    """``If-Match``/``ETag`` and 409/412/428 for generic views of ``VersionedModel``s.

    Attributes:
        if_match_required: Refuse writes (PUT, PATCH, DELETE) without ``If-Match`` with a
            428. Off by default: the serializer's ``version`` field carries the check.

    ``get_object()`` checks ``If-Match`` for unsafe methods with
    :func:`django_prodpatterns.http.check_if_match` before anything is written, and tells
    the serializer (context ``prodpatterns_if_match_checked``) that the body may leave
    ``version`` out. Successful responses about one row (retrieve, update, create) carry
    its ``ETag`` (``W/"<version>"``, after the write's bump).
    """

    if_match_required: bool = False

    _prodpatterns_row: VersionedModel | None = None
    _prodpatterns_if_match_checked = False

    def get_object(self) -> VersionedModel:
        row: VersionedModel = super().get_object()  # type: ignore[misc]
        request = self.request  # type: ignore[attr-defined]
        if request.method not in SAFE_METHODS:
            check_if_match(request, row, required=self.if_match_required)
            self._prodpatterns_if_match_checked = "If-Match" in request.headers
        self._prodpatterns_row = row
        return row

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        context[IF_MATCH_CHECKED] = self._prodpatterns_if_match_checked
        return context

    def perform_create(self, serializer: serializers.BaseSerializer[VersionedModel]) -> None:
        super().perform_create(serializer)  # type: ignore[misc]
        self._prodpatterns_row = serializer.instance

    def handle_exception(self, exc: Exception) -> Response:
        current = None
        if isinstance(exc, ConflictError):
            current, exc = exc.current, Conflict(str(exc))
        elif isinstance(exc, PreconditionFailed):
            current, exc = exc.current, PreconditionFailedError(str(exc))
        elif isinstance(exc, PreconditionRequired):
            exc = PreconditionRequiredError(str(exc))
        response = super().handle_exception(exc)  # type: ignore[misc]
        if current is not None:
            response.headers["ETag"] = f'W/"{current}"'
        return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        row = self._prodpatterns_row
        if (
            row is not None
            and getattr(row, VERSION, None) is not None
            and status.is_success(response.status_code)
            and response.status_code != status.HTTP_204_NO_CONTENT
            and "ETag" not in response.headers
        ):
            response.headers["ETag"] = etag(row)
        return response
