"""TimestampedModel: created_at fixed at creation, updated_at moving on every kind of write."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ArticleFactory
from tests.testapp.models import Article

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=30)


def age(article, created=LONG_AGO, updated=LONG_AGO):
    """Push the row's timestamps into the past, bypassing the model."""
    Article.objects.filter(pk=article.pk).update(created_at=created, updated_at=updated)
    article.refresh_from_db()
    return article


def test_created_and_updated_are_the_same_instant_on_create():
    article = ArticleFactory()
    assert article.created_at == article.updated_at
    article.refresh_from_db()
    assert article.created_at == article.updated_at
    assert timezone.now() - article.created_at < timedelta(minutes=1)


def test_save_moves_updated_at_but_not_created_at():
    article = age(ArticleFactory())
    article.title = "changed"
    article.save()
    article.refresh_from_db()
    assert article.created_at == LONG_AGO
    assert article.updated_at > LONG_AGO


@pytest.mark.parametrize("update_fields", [["title"], ("title",), {"title"}])
def test_save_with_update_fields_adds_updated_at(update_fields, django_assert_num_queries):
    article = age(ArticleFactory())
    article.title = "changed"
    with django_assert_num_queries(1):
        article.save(update_fields=update_fields)
    article.refresh_from_db()
    assert article.title == "changed"
    assert article.updated_at > LONG_AGO


def test_save_with_empty_update_fields_saves_nothing(django_assert_num_queries):
    article = age(ArticleFactory())
    article.title = "changed"
    with django_assert_num_queries(0):
        article.save(update_fields=[])
    article.refresh_from_db()
    assert article.title != "changed"
    assert article.updated_at == LONG_AGO


def test_save_never_rewrites_created_at():
    article = age(ArticleFactory())
    article.created_at = timezone.now()
    article.save()
    article.save(update_fields=["created_at", "title"])
    article.refresh_from_db()
    assert article.created_at == LONG_AGO


def test_queryset_update_moves_updated_at(django_assert_num_queries):
    articles = [age(a) for a in ArticleFactory.create_batch(3)]
    with django_assert_num_queries(1):
        assert Article.objects.filter(pk__in=[a.pk for a in articles[:2]]).update(body="x") == 2
    moved = {a.pk: a.updated_at > LONG_AGO for a in Article.objects.all()}
    assert moved == {articles[0].pk: True, articles[1].pk: True, articles[2].pk: False}
    assert all(a.created_at == LONG_AGO for a in Article.objects.all())


def test_queryset_update_keeps_an_explicit_updated_at():
    article = ArticleFactory()
    Article.objects.filter(pk=article.pk).update(updated_at=LONG_AGO)
    article.refresh_from_db()
    assert article.updated_at == LONG_AGO


def test_bulk_update_moves_updated_at(django_assert_num_queries):
    articles = [age(a) for a in ArticleFactory.create_batch(3)]
    for article in articles:
        article.title += "!"
    with django_assert_num_queries(1):
        Article.objects.bulk_update(articles, ["title"])
    for article in Article.objects.all():
        assert article.title.endswith("!")
        assert article.updated_at > LONG_AGO
        assert article.created_at == LONG_AGO


def test_bulk_create_stamps_both_fields():
    Article.objects.bulk_create([Article(title="a"), Article(title="b")])
    assert Article.objects.filter(created_at__isnull=False, updated_at__isnull=False).count() == 2


def test_update_or_create_moves_updated_at():
    article = age(ArticleFactory(title="same"))
    Article.objects.update_or_create(title="same", defaults={"body": "new"})
    article.refresh_from_db()
    assert article.body == "new"
    assert article.updated_at > LONG_AGO
    assert article.created_at == LONG_AGO
