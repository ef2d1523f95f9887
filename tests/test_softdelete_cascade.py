"""Soft-delete cascade: set-based, atomic, and faithful to every on_delete."""

import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import models as dj_models
from django.test import override_settings

from django_prodpatterns import signals
from django_prodpatterns.exceptions import SoftDeleteCascadeError
from tests.factories import CategoryFactory, CommentFactory, PostFactory, TagFactory
from tests.helpers import soft_delete_query_bound
from tests.testapp.models import (
    Attachment,
    Category,
    Comment,
    Folder,
    Link,
    Lock,
    Pin,
    Post,
    PostDetail,
    PostTag,
    Remark,
    Review,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def warm_content_types():
    """Generic relations look up a ContentType once per process; keep it out of counts."""
    ContentType.objects.get_for_model(Post)


def tree(n_posts, n_comments=1):
    """One category with ``n_posts`` posts of ``n_comments`` comments each (bulk-built)."""
    category = CategoryFactory()
    posts = Post.objects.bulk_create(Post(category=category, title=f"p{i}") for i in range(n_posts))
    Comment.objects.bulk_create(
        Comment(post=post, text=f"c{j}") for post in posts for j in range(n_comments)
    )
    return category


def state(model):
    """Every row's (pk, deleted?, batch) — to prove a failed operation changed nothing."""
    return sorted(model.all_objects.values_list("pk", "deleted_at", "deletion_batch"))


def test_delete_marks_instead_of_removing_and_returns_djangos_contract():
    comment = CommentFactory()
    post = comment.post
    assert post.delete() == (2, {"testapp.Post": 1, "testapp.Comment": 1})
    assert post.is_deleted
    assert isinstance(post.deletion_batch, uuid.UUID)
    assert not Post.objects.exists()
    assert Post.all_objects.get().deleted_at == post.deleted_at
    assert Comment.deleted_objects.get().deletion_batch == post.deletion_batch


def test_one_timestamp_and_one_batch_per_operation():
    category = tree(3, 2)
    category.delete()
    rows = [*Category.all_objects.all(), *Post.all_objects.all(), *Comment.all_objects.all()]
    assert len(rows) == 1 + 3 + 6
    assert {row.deleted_at for row in rows} == {category.deleted_at}
    assert {row.deletion_batch for row in rows} == {category.deletion_batch}


def test_updated_at_moves_with_the_soft_delete():
    post = PostFactory()
    before = post.updated_at
    post.delete()
    post.refresh_from_db()
    assert post.updated_at == post.deleted_at > before


DELETE_QUERIES = 13


@pytest.mark.parametrize("n", [10, 10_000])
def test_query_count_does_not_grow_with_rows(n, django_assert_num_queries):
    category = tree(n)
    # savepoint, Category, (Post, Review), (Comment, PostTag, PostDetail, Remark),
    # Attachment check, (Pin, Lock, Review) protect checks, release
    with django_assert_num_queries(DELETE_QUERIES):
        total, counts = Category.objects.filter(pk=category.pk).delete()
    assert counts == {"testapp.Category": 1, "testapp.Post": n, "testapp.Comment": n}
    assert total == 1 + 2 * n
    assert soft_delete_query_bound() >= DELETE_QUERIES


def test_queryset_delete_skips_rows_that_are_already_deleted():
    first, _second = PostFactory.create_batch(2)
    first.delete()
    old = Post.all_objects.get(pk=first.pk)
    assert Post.all_objects.all().delete() == (1, {"testapp.Post": 1})
    again = Post.all_objects.get(pk=first.pk)
    assert (again.deleted_at, again.deletion_batch) == (old.deleted_at, old.deletion_batch)


def test_sliced_queryset_delete_is_refused():
    PostFactory()
    with pytest.raises(TypeError, match="limit"):
        Post.objects.all()[:1].delete()


def test_reverse_one_to_one_child_goes_with_its_parent():
    post = PostFactory()
    PostDetail.objects.create(post=post)
    post.delete()
    assert PostDetail.deleted_objects.count() == 1


def test_forward_one_to_one_is_a_parent_not_a_child():
    detail = PostDetail.objects.create(post=PostFactory())
    assert detail.delete() == (1, {"testapp.PostDetail": 1})
    assert Post.objects.count() == 1


def test_soft_deletable_through_rows_go_but_the_other_side_stays():
    post, tag = PostFactory(), TagFactory()
    PostTag.objects.create(post=post, tag=tag)
    post.delete()
    assert PostTag.deleted_objects.count() == 1
    assert tag.__class__.objects.filter(pk=tag.pk).exists()


def test_generic_relation_children_go_with_their_object():
    post, other = PostFactory.create_batch(2)
    Remark.objects.create(target=post, text="on post")
    Remark.objects.create(target=other, text="on other")
    post.delete()
    assert list(Remark.deleted_objects.values_list("text", flat=True)) == ["on post"]


def test_protect_raises_djangos_error_and_changes_nothing():
    post = CommentFactory().post
    Pin.objects.create(post=post)
    before = state(Post), state(Comment)
    with pytest.raises(dj_models.ProtectedError) as excinfo:
        post.category.delete()
    assert "testapp.Pin.post" in str(excinfo.value)
    assert {type(o) for o in excinfo.value.protected_objects} == {Pin}
    assert (state(Post), state(Comment)) == before
    assert not post.category.__class__.deleted_objects.exists()


def test_protectors_soft_deleted_earlier_do_not_protect():
    post = PostFactory()
    lock = Lock.objects.create(post=post)
    with pytest.raises(dj_models.ProtectedError):
        post.delete()
    lock.delete()
    assert post.delete()[0] == 1


def test_restrict_raises_unless_the_restrictor_goes_in_the_same_cascade():
    post = PostFactory()
    Review.objects.create(post=post, category=CategoryFactory())
    with pytest.raises(dj_models.RestrictedError):
        post.delete()
    assert not Post.deleted_objects.exists()

    other = PostFactory()
    Review.objects.create(post=other, category=other.category)
    counts = other.category.delete()[1]
    assert counts["testapp.Review"] == 1
    assert counts["testapp.Post"] == 1


def test_set_null_set_default_set_and_do_nothing_are_left_untouched():
    post = PostFactory()
    link = Link.objects.create(to_null=post, to_default=post, to_set=post, to_nothing=post)
    assert post.delete() == (1, {"testapp.Post": 1})
    link.refresh_from_db()
    assert not link.is_deleted
    assert [link.to_null_id, link.to_default_id, link.to_set_id, link.to_nothing_id] == [
        post.pk
    ] * 4


def test_plain_cascade_child_is_an_error_by_default_and_changes_nothing():
    post = PostFactory()
    Attachment.objects.create(post=post)
    with pytest.raises(SoftDeleteCascadeError, match=r"testapp\.Attachment\.post"):
        post.category.delete()
    assert not Post.deleted_objects.exists()
    assert not Category.deleted_objects.exists()


def test_plain_cascade_child_can_be_kept():
    post = PostFactory()
    Attachment.objects.create(post=post)
    with override_settings(
        PRODPATTERNS={"SOFT_DELETE_PLAIN_CHILDREN": {"testapp.Attachment": "keep"}}
    ):
        post.delete()
    assert Attachment.objects.count() == 1


def test_plain_cascade_child_can_be_hard_deleted():
    post, other = PostFactory.create_batch(2)
    Attachment.objects.create(post=post)
    Attachment.objects.create(post=other)
    with override_settings(
        PRODPATTERNS={"SOFT_DELETE_PLAIN_CHILDREN": {"testapp.Attachment": "hard"}}
    ):
        post.delete()
    assert list(Attachment.objects.values_list("post_id", flat=True)) == [other.pk]


def test_a_failing_receiver_mid_cascade_leaves_every_row_as_it_was():
    category = tree(3, 2)
    before = state(Category), state(Post), state(Comment)

    def veto(**kwargs):
        raise RuntimeError("no")

    signals.post_soft_delete.connect(veto)
    try:
        with pytest.raises(RuntimeError):
            category.delete()
    finally:
        signals.post_soft_delete.disconnect(veto)
    assert (state(Category), state(Post), state(Comment)) == before


def test_a_failing_update_mid_cascade_leaves_every_row_as_it_was(monkeypatch):
    """The second level's UPDATE fails in the database; the first level is rolled back."""
    category = tree(2, 2)
    before = state(Category), state(Post), state(Comment)
    from django.db import connection

    def fail_on_comments(execute, sql, params, many, context):
        if sql.startswith('UPDATE "testapp_comment"'):
            sql = sql.replace('UPDATE "testapp_comment"', 'UPDATE "testapp_no_such_table"', 1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_on_comments), pytest.raises(Exception, match="no_such"):
        category.delete()
    assert (state(Category), state(Post), state(Comment)) == before


def test_tree_cascade_costs_one_query_per_level(django_assert_num_queries):
    root = Folder.objects.create(name="root")
    level = [root]
    for depth in range(4):
        level = Folder.objects.bulk_create(
            Folder(parent=parent, name=f"{depth}-{i}") for parent in level for i in range(3)
        )
    # savepoint, root, 4 levels of children, one UPDATE that finds none, release
    with django_assert_num_queries(8):
        assert root.delete()[0] == 1 + 3 + 9 + 27 + 81


def test_signals_carry_batch_and_every_touched_pk():
    comment = CommentFactory()
    post = comment.post
    seen = []

    def record(signal_name):
        def receiver(sender, batch, pks, using, **kwargs):
            visible = Post.objects.filter(pk=post.pk).exists()
            seen.append((signal_name, sender, batch, pks, visible))

        return receiver

    pre, post_ = record("pre"), record("post")
    signals.pre_soft_delete.connect(pre)
    signals.post_soft_delete.connect(post_)
    try:
        post.delete()
    finally:
        signals.pre_soft_delete.disconnect(pre)
        signals.post_soft_delete.disconnect(post_)
    expected = {"testapp.Post": [post.pk], "testapp.Comment": [comment.pk]}
    assert seen == [
        ("pre", Post, post.deletion_batch, expected, True),
        ("post", Post, post.deletion_batch, expected, False),
    ]


def test_djangos_delete_signals_mean_a_real_delete_only():
    post = PostFactory()
    pk = post.pk
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    dj_models.signals.post_delete.connect(receiver, sender=Post)
    try:
        post.delete()
        assert seen == []
        post.hard_delete()
        assert seen == [pk]
    finally:
        dj_models.signals.post_delete.disconnect(receiver, sender=Post)
    assert not Post.all_objects.exists()
