"""factory-boy factories for the test app's models."""

import factory

from tests.testapp import models
from tests.testapp.models import Article


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article {n}")


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Author

    name = factory.Sequence(lambda n: f"author {n}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Category

    name = factory.Sequence(lambda n: f"category {n}")


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Post

    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"post {n}")


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Comment

    post = factory.SubFactory(PostFactory)
    text = factory.Sequence(lambda n: f"comment {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tag

    name = factory.Sequence(lambda n: f"tag {n}")
