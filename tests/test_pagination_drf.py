"""The DRF pagination class: links that walk the whole list, and a 400 for a bad cursor."""

import pytest
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.test import APIRequestFactory

from django_prodpatterns.drf import KeysetPagination
from tests.testapp.models import Entry

pytestmark = pytest.mark.django_db


class EntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Entry
        fields = ["id", "rank"]


class Pagination(KeysetPagination):
    page_size = 4
    ordering = ("-rank",)


class EntryList(ListAPIView):
    queryset = Entry.objects.all()
    serializer_class = EntrySerializer
    pagination_class = Pagination


def get(url):
    response = EntryList.as_view()(APIRequestFactory().get(url))
    response.render()
    return response


def test_next_links_walk_every_row_once_in_order():
    Entry.objects.bulk_create(Entry(rank=r % 5, title="t") for r in range(18))
    expected = list(Entry.objects.order_by("-rank", "-pk").values_list("pk", flat=True))
    seen, url = [], "/entries/"
    while url:
        body = get(url).data
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == expected
    last_but_one = get(body["previous"]).data
    assert [row["id"] for row in last_but_one["results"]] == expected[12:16]


def test_a_bad_cursor_is_a_400():
    response = get("/entries/?cursor=forged")
    assert response.status_code == 400
    assert "cursor" in response.data["detail"]


def test_the_schema_describes_the_envelope():
    schema = Pagination().get_paginated_response_schema({"type": "array"})
    assert set(schema["properties"]) == {"next", "previous", "results"}
