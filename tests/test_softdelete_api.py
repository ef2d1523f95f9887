"""The soft-delete model API: managers, instance methods, saving, async twins."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.factories import CommentFactory, PostFactory
from tests.testapp.models import Comment, Post

pytestmark = pytest.mark.django_db


def test_managers_split_alive_and_dead():
    alive, dead = PostFactory.create_batch(2)
    dead.delete()
    assert list(Post.objects.all()) == [alive]
    assert list(Post.deleted_objects.all()) == [dead]
    assert sorted(Post.all_objects.values_list("pk", flat=True)) == sorted([alive.pk, dead.pk])
    assert list(Post.all_objects.alive()) == [alive]
    assert list(Post.all_objects.dead()) == [dead]


def test_base_manager_is_unfiltered_so_forward_relations_still_resolve():
    comment = CommentFactory()
    comment.post.delete()
    assert Post._base_manager.count() == 1
    stale = Comment.all_objects.get(pk=comment.pk)
    assert stale.post.is_deleted  # the forward relation reaches the dead post


def test_related_managers_show_alive_rows():
    post = PostFactory()
    keep, gone = CommentFactory.create_batch(2, post=post)
    gone.delete()
    assert list(post.comments.all()) == [keep]


def test_saving_a_deleted_instance_neither_resurrects_nor_fails():
    post = PostFactory()
    stale = Post.objects.get(pk=post.pk)  # loaded while alive
    post.delete()
    stale.title = "edited"
    stale.save()
    row = Post.all_objects.get(pk=post.pk)
    assert row.title == "edited"
    assert row.is_deleted

    dead = Post.deleted_objects.get()
    dead.title = "edited again"
    dead.save()
    assert Post.deleted_objects.get().title == "edited again"


def test_saving_a_stale_deleted_copy_does_not_delete_a_restored_row():
    post = PostFactory()
    post.delete()
    stale = Post.all_objects.get(pk=post.pk)  # loaded while dead
    post.restore()
    stale.save()
    assert Post.objects.filter(pk=post.pk).exists()


def test_hard_delete_removes_the_row_and_its_dead_children():
    comment = CommentFactory()
    post = comment.post
    comment.delete()
    assert post.hard_delete()[0] == 2
    assert not Post.all_objects.exists()
    assert not Comment.all_objects.exists()


def test_queryset_hard_delete():
    PostFactory.create_batch(2)
    Post.objects.all().hard_delete()
    assert not Post.all_objects.exists()


def test_unsaved_instance_cannot_be_deleted():
    with pytest.raises(ValueError, match="attribute is set to None"):
        Post(title="x").delete()


def test_deleting_an_already_deleted_instance_changes_nothing():
    post = PostFactory()
    post.delete()
    batch = post.deletion_batch
    assert post.delete() == (0, {})
    assert Post.all_objects.get().deletion_batch == batch


@pytest.mark.django_db(transaction=True)
def test_async_twins():
    post = CommentFactory().post

    async def flow():
        deleted = await post.adelete()
        dead = await Post.all_objects.aget(pk=post.pk)
        restored = await dead.arestore()
        await (await Post.objects.aget(pk=post.pk)).adelete()
        queryset_restored = await Post.all_objects.filter(pk=post.pk).arestore()
        hard = await post.ahard_delete()
        left = await Post.all_objects.aexists()
        await sync_to_async(connections.close_all)()  # the worker thread's connection
        return deleted, restored, queryset_restored, hard, left

    deleted, restored, queryset_restored, hard, left = asyncio.run(flow())
    both = {"testapp.Post": 1, "testapp.Comment": 1}
    assert deleted == (2, both)
    assert restored == (2, both)
    assert queryset_restored == (2, both)
    assert hard[0] == 2
    assert left is False
