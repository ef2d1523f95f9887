"""soft_delete, restore_deleted and purge_deleted: success, dry runs, and bad input.

Bad input goes through ``run_from_argv`` (what ``manage.py`` does), so the tests see the
real exit status and stderr line, and then check that nothing changed.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import CategoryFactory, CommentFactory, PostFactory
from tests.testapp.models import Article, Category, Comment, Post

pytestmark = pytest.mark.django_db


def run(*argv):
    out = StringIO()
    call_command(*argv, stdout=out)
    return out.getvalue()


def state():
    return [
        sorted(m.all_objects.values_list("pk", "deleted_at", "deletion_batch"))
        for m in (Category, Post, Comment)
    ]


# --- soft_delete ---------------------------------------------------------------------------


def test_soft_delete_prints_batch_and_counts():
    comment = CommentFactory()
    out = run("soft_delete", "testapp.Post", "--pk", str(comment.post_id), "--reason", "spam")
    post = Post.all_objects.get()
    assert post.is_deleted
    assert f"Soft-deleted 2 rows in batch {post.deletion_batch}:" in out
    assert "testapp.Comment: 1" in out


def test_soft_delete_dry_run_changes_nothing():
    comment = CommentFactory()
    before = state()
    out = run("soft_delete", "testapp.Post", "--pk", str(comment.post_id), "--dry-run")
    assert "Would soft-delete 2 rows" in out
    assert "nothing was changed" in out
    assert state() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["testapp.Nope", "--pk", "1"], "Unknown model 'testapp.Nope'"),
        (["nolabel", "--pk", "1"], "Unknown model 'nolabel'"),
        (["testapp.Article", "--pk", "1"], "testapp.Article is not a soft-delete model"),
        (["testapp.Post", "--pk", "999999"], "No testapp.Post with pk 999999"),
        (["testapp.Post", "--pk", "abc"], "Invalid --pk for testapp.Post"),
    ],
)
def test_soft_delete_bad_input(fails, argv, message):
    CommentFactory()
    before = state()
    status, err = fails("soft_delete", *argv)
    assert status == 1
    assert message in err
    assert len(err.splitlines()) == 1
    assert state() == before


def test_soft_delete_protected_rows_fail_cleanly(fails):
    from tests.testapp.models import Pin

    post = PostFactory()
    Pin.objects.create(post=post)
    before = state()
    status, err = fails("soft_delete", "testapp.Post", "--pk", str(post.pk))
    assert status == 1
    assert "protected foreign keys" in err
    assert state() == before


# --- restore_deleted -----------------------------------------------------------------------


def test_restore_by_batch_is_exact():
    post = CommentFactory().post
    earlier = CommentFactory(post=post)
    earlier.delete()
    post.delete()
    out = run("restore_deleted", "testapp.Post", "--batch", str(post.deletion_batch))
    assert "Restored 2 rows" in out
    assert Post.objects.count() == 1
    assert list(Comment.deleted_objects.values_list("pk", flat=True)) == [earlier.pk]


def test_restore_by_pk_and_by_date():
    first, second = PostFactory.create_batch(2)
    first.delete()
    second.delete()
    out = run("restore_deleted", "testapp.Post", "--pk", str(first.pk))
    assert "Restored 1 rows" in out
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    out = run("restore_deleted", "testapp.Post", "--deleted-after", since)
    assert "Restored 1 rows" in out
    assert Post.objects.count() == 2


def test_restore_reports_rows_waiting_for_their_parent():
    comment = CommentFactory()
    comment.post.delete()
    out = run("restore_deleted", "testapp.Comment", "--pk", str(comment.pk))
    assert "Restored 0 rows" in out
    assert "1 selected testapp.Comment rows stay deleted" in out


def test_restore_dry_run_changes_nothing():
    post = CommentFactory().post
    post.delete()
    before = state()
    out = run("restore_deleted", "testapp.Post", "--all", "--dry-run")
    assert "Would restore 2 rows" in out
    assert state() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["testapp.Nope", "--all"], "Unknown model"),
        (["testapp.Article", "--all"], "not a soft-delete model"),
        (["testapp.Post"], "Say what to restore"),
        (["testapp.Post", "--batch", "not-a-uuid"], "Invalid --batch 'not-a-uuid'"),
        (["testapp.Post", "--deleted-after", "yesterday"], "Invalid --deleted-after"),
        (["testapp.Post", "--pk", "999999"], "No testapp.Post with pk 999999"),
        (
            ["testapp.Post", "--batch", "00000000-0000-0000-0000-000000000000"],
            "No deleted testapp.Post rows match",
        ),
    ],
)
def test_restore_bad_input(fails, argv, message):
    CommentFactory().post.delete()
    before = state()
    status, err = fails("restore_deleted", *argv)
    assert status == 1
    assert message in err
    assert len(err.splitlines()) == 1
    assert state() == before


def test_restore_conflict_fails_cleanly(fails):
    old = CategoryFactory(name="Books")
    old.delete()
    CategoryFactory(name="Books")
    before = state()
    status, err = fails("restore_deleted", "testapp.Category", "--pk", str(old.pk))
    assert status == 1
    assert "name='Books' is taken by an alive row" in err
    assert state() == before


# --- purge_deleted -------------------------------------------------------------------------


def age(model, days):
    model.all_objects.filter(deleted_at__isnull=False).update(
        deleted_at=timezone.now() - timedelta(days=days)
    )


def test_purge_removes_only_rows_dead_long_enough():
    old, recent, alive = PostFactory.create_batch(3)
    CommentFactory(post=old)
    old.delete()
    age(Post, 40)
    age(Comment, 40)
    recent.delete()
    out = run("purge_deleted", "--older-than", "30d", "--model", "testapp.Post")
    assert "Purged 1 rows" in out
    assert sorted(Post.all_objects.values_list("pk", flat=True)) == sorted([recent.pk, alive.pk])
    assert not Comment.all_objects.exists()  # went with its post, for real


def test_purge_in_batches_reports_progress():
    posts = PostFactory.create_batch(5)
    Post.objects.filter(pk__in=[p.pk for p in posts]).delete()
    age(Post, 2)
    out = run("purge_deleted", "--older-than", "1d", "--batch-size", "2", "--model", "testapp.Post")
    assert "testapp.Post: 2/5" in out
    assert "testapp.Post: 4/5" in out
    assert "Purged 5 rows" in out
    assert not Post.all_objects.exists()


def test_purge_sends_post_purge_with_the_purged_pks():
    from django_prodpatterns import signals

    posts = PostFactory.create_batch(3)
    Post.objects.filter(pk__in=[p.pk for p in posts[:2]]).delete()
    age(Post, 40)
    seen = []

    def receiver(sender, pks, **kwargs):
        seen.append((sender, pks))

    signals.post_purge.connect(receiver)
    try:
        run("purge_deleted", "--older-than", "30d", "--model", "testapp.Post")
    finally:
        signals.post_purge.disconnect(receiver)
    assert seen == [(Post, {"testapp.Post": sorted(p.pk for p in posts[:2])})]


def test_purge_dry_run_changes_nothing():
    PostFactory().delete()
    age(Post, 40)
    before = state()
    # --model: without it purge_deleted takes every soft-delete model, tenant-scoped ones too,
    # and stops on the default alias, where row-level security hides those without a tenant
    # (tests/test_messages_commands.py).
    out = run("purge_deleted", "--older-than", "30d", "--dry-run", "--model", "testapp.Post")
    assert "testapp.Post: 1" in out
    assert "Would purge 1 rows" in out
    assert state() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--older-than", "thirty days"], "Invalid duration 'thirty days'"),
        (["--older-than", "30d", "--model", "testapp.Nope"], "Unknown model"),
        (["--older-than", "30d", "--model", "testapp.Article"], "not a soft-delete model"),
        (["--older-than", "30d", "--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_purge_bad_input(fails, argv, message):
    PostFactory().delete()
    age(Post, 40)
    before = state()
    status, err = fails("purge_deleted", *argv)
    assert status == 1
    assert message in err
    assert state() == before
    assert Article.objects.count() == 0
