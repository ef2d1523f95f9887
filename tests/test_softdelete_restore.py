"""Restore brings back exactly what one deletion took, or explains why it cannot."""

import pytest
from django.contrib.contenttypes.models import ContentType

from django_prodpatterns import signals
from django_prodpatterns.exceptions import RestoreConflict
from tests.factories import AuthorFactory, CategoryFactory, CommentFactory, PostFactory
from tests.helpers import soft_delete_query_bound
from tests.testapp.models import Category, Comment, Folder, Post, Remark

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def warm_content_types():
    ContentType.objects.get_for_model(Post)


def alive(model):
    return sorted(model.objects.values_list("pk", flat=True))


def state(model):
    return sorted(model.all_objects.values_list("pk", "deleted_at", "deletion_batch"))


def test_restore_brings_back_the_whole_batch():
    comment = CommentFactory()
    post = comment.post
    Remark.objects.create(target=post)
    post.category.delete()
    category = Category.all_objects.get()
    assert category.restore() == (
        4,
        {"testapp.Category": 1, "testapp.Post": 1, "testapp.Comment": 1, "testapp.Remark": 1},
    )
    assert not category.is_deleted
    assert alive(Post) == [post.pk]
    assert alive(Comment) == [comment.pk]
    assert Remark.objects.count() == 1


def test_rows_deleted_earlier_stay_deleted():
    post = PostFactory()
    earlier, later = CommentFactory.create_batch(2, post=post)
    earlier.delete()
    post.delete()
    Post.all_objects.get().restore()
    assert alive(Comment) == [later.pk]
    assert Comment.deleted_objects.get().pk == earlier.pk


def test_shared_child_stays_deleted_while_its_other_parent_is():
    author = AuthorFactory()
    comment = CommentFactory(author=author)
    post = comment.post
    post.delete()  # takes the comment (batch of the post)
    author.delete()  # the comment is already gone: not part of this batch
    Post.all_objects.get(pk=post.pk).restore()
    assert alive(Post) == [post.pk]
    assert alive(Comment) == []  # its author is still deleted

    author.restore()  # the author's batch never held the comment
    assert alive(Comment) == []
    Comment.all_objects.filter(pk=comment.pk).restore()  # now both parents are alive
    assert alive(Comment) == [comment.pk]


def test_explicit_restore_of_a_child_under_a_deleted_parent_restores_nothing():
    comment = CommentFactory()
    comment.post.delete()
    assert Comment.all_objects.filter(pk=comment.pk).restore() == (0, {})
    assert alive(Comment) == []


def test_restoring_one_root_of_a_multi_row_batch_leaves_the_others():
    first, second = CommentFactory.create_batch(2)
    Post.objects.filter(pk__in=[first.post_id, second.post_id]).delete()
    Post.all_objects.filter(pk=first.post_id).restore()
    assert alive(Post) == [first.post_id]
    assert alive(Comment) == [first.pk]
    Post.all_objects.filter(pk=second.post_id).restore()
    assert alive(Comment) == sorted([first.pk, second.pk])


def test_restore_of_alive_rows_is_a_no_op(django_assert_num_queries):
    PostFactory()
    with django_assert_num_queries(3):  # savepoint, the batches query, release
        assert Post.all_objects.all().restore() == (0, {})


@pytest.mark.parametrize("n", [10, 10_000])
def test_restore_query_count_does_not_grow_with_rows(n, django_assert_num_queries):
    category = CategoryFactory()
    posts = Post.objects.bulk_create(Post(category=category, title=str(i)) for i in range(n))
    Comment.objects.bulk_create(Comment(post=post) for post in posts)
    category.delete()
    # savepoint, batches, Category, (Post, Review), (Comment, PostTag, PostDetail, Remark),
    # release
    with django_assert_num_queries(10):
        total, counts = Category.all_objects.filter(pk=category.pk).restore()
    assert total == 1 + 2 * n
    assert counts == {"testapp.Category": 1, "testapp.Post": n, "testapp.Comment": n}
    assert soft_delete_query_bound() >= 10


def test_restore_that_collides_with_a_live_unique_value_raises_and_changes_nothing():
    old = CategoryFactory(name="Books")
    PostFactory(category=old)
    old.delete()
    new = CategoryFactory(name="Books")
    before = state(Category), state(Post)
    with pytest.raises(RestoreConflict) as excinfo:
        old.restore()
    message = str(excinfo.value)
    assert "testapp.Category" in message
    assert "name='Books'" in message
    assert f"pk={new.pk}" in message
    assert (state(Category), state(Post)) == before


def test_restore_moves_updated_at_and_stamps_the_restore_batch():
    post = PostFactory()
    post.delete()
    deleted_at = post.deleted_at
    post.restore()
    post.refresh_from_db()
    assert post.deleted_at is None
    assert post.updated_at > deleted_at
    assert post.deletion_batch is not None


def test_tree_restore():
    root = Folder.objects.create(name="root")
    child = Folder.objects.create(parent=root, name="child")
    Folder.objects.create(parent=child, name="grandchild")
    root.delete()
    assert Folder.objects.count() == 0
    assert root.restore()[0] == 3


def test_restore_signals_see_before_and_after():
    post = CommentFactory().post
    post.delete()
    batch = post.deletion_batch
    seen = []

    def receiver(signal):
        def record(sender, batch, pks, batches, using, **kwargs):
            seen.append((signal, sender, pks, batches, Post.objects.exists()))

        return record

    pre, post_ = receiver("pre"), receiver("post")
    signals.pre_restore.connect(pre)
    signals.post_restore.connect(post_)
    try:
        post.restore()
    finally:
        signals.pre_restore.disconnect(pre)
        signals.post_restore.disconnect(post_)
    pks = {"testapp.Post": [post.pk], "testapp.Comment": [Comment.objects.get().pk]}
    assert seen == [("pre", Post, pks, [batch], False), ("post", Post, pks, [batch], True)]


def test_a_failing_receiver_leaves_the_rows_deleted():
    post = CommentFactory().post
    post.delete()
    before = state(Post), state(Comment)

    def veto(**kwargs):
        raise RuntimeError("no")

    signals.post_restore.connect(veto)
    try:
        with pytest.raises(RuntimeError):
            post.restore()
    finally:
        signals.post_restore.disconnect(veto)
    assert (state(Post), state(Comment)) == before
