"""Keyset pagination for Django REST framework (imported only when DRF is installed).

::

    class OrderList(ListAPIView):
        queryset = Order.objects.order_by("-placed_at")
        pagination_class = KeysetPagination

Responses carry ``next`` and ``previous`` links (``?cursor=...``) and ``results``; a bad
cursor is a 400 with DRF's error body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from rest_framework.exceptions import ParseError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from ..exceptions import InvalidCursor
from ..pagination import KeysetPage, KeysetPaginator

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

_M = TypeVar("_M", bound=models.Model)


class KeysetPagination(BasePagination):
    """DRF pagination over :class:`~django_prodpatterns.pagination.KeysetPaginator`.

    Attributes:
        page_size: Rows per page.
        cursor_query_param: The query parameter that carries the cursor.
        ordering: An ordering to apply (a tuple of field names); ``None`` keeps the
            view's QuerySet ordering.
    """

    page_size = 50
    cursor_query_param = "cursor"
    ordering: tuple[str, ...] | None = None

    # A QuerySet only (BasePagination also takes a list): a keyset needs its ordering.
    def paginate_queryset(  # type: ignore[override]
        self, queryset: models.QuerySet[_M], request: Request, view: APIView | None = None
    ) -> list[_M]:
        if self.ordering:
            queryset = queryset.order_by(*self.ordering)
        self.request = request
        try:
            self.page: KeysetPage[Any] = KeysetPaginator(queryset, self.page_size).page(
                request.query_params.get(self.cursor_query_param) or None
            )
        except InvalidCursor as exc:
            raise ParseError(str(exc)) from exc
        return list(self.page)

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.page.next_cursor),
                "previous": self._link(self.page.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
