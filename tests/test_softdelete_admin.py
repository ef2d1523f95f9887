"""SoftDeleteAdmin through the Django test client, as a staff user would use it."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from tests.factories import CategoryFactory, CommentFactory, PostFactory
from tests.testapp.models import Category, Comment, Post

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:testapp_post_changelist")


def titles(response):
    return sorted(obj.title for obj in response.context["cl"].result_list)


def test_changelist_shows_alive_rows_by_default_and_filters(admin_client):
    alive, dead = PostFactory(title="alive"), PostFactory(title="dead")
    dead.delete()
    assert titles(admin_client.get(CHANGELIST)) == ["alive"]
    response = admin_client.get(CHANGELIST, {"deleted": "deleted"})
    assert titles(response) == ["dead"]
    assert "Deleted " in response.content.decode()  # the row is marked
    assert titles(admin_client.get(CHANGELIST, {"deleted": "all"})) == ["alive", "dead"]
    assert alive.pk


def test_change_view_opens_a_deleted_row(admin_client):
    post = PostFactory(title="gone")
    post.delete()
    response = admin_client.get(reverse("admin:testapp_post_change", args=[post.pk]))
    assert response.status_code == 200
    assert "gone" in response.content.decode()
    assert "deletion batch" in response.content.decode().lower()


def test_inline_hides_deleted_children(admin_client):
    post = PostFactory()
    CommentFactory(post=post, text="kept")
    CommentFactory(post=post, text="removed").delete()
    response = admin_client.get(reverse("admin:testapp_post_change", args=[post.pk]))
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.text for form in formset.forms] == ["kept"]


def test_delete_view_soft_deletes(admin_client):
    post = CommentFactory().post
    url = reverse("admin:testapp_post_delete", args=[post.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert Post.deleted_objects.filter(pk=post.pk).exists()
    assert Comment.deleted_objects.count() == 1


def test_restore_action_previews_then_restores(admin_client):
    comment = CommentFactory(text="the comment")
    post = comment.post
    post.delete()
    data = {"action": "restore_selected", ACTION_CHECKBOX_NAME: [post.pk]}
    preview = admin_client.post(CHANGELIST + "?deleted=deleted", data)
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "testapp.Comment: 1" in page
    assert "the comment" in page
    assert Post.deleted_objects.count() == 1  # the preview changed nothing

    done = admin_client.post(CHANGELIST + "?deleted=deleted", {**data, "post": "yes"})
    assert done.status_code == 302
    assert Post.objects.count() == 1
    assert Comment.objects.count() == 1


def test_restore_preview_shows_a_conflict_and_offers_no_button(admin_client):
    old = CategoryFactory(name="Books")
    old.delete()
    CategoryFactory(name="Books")
    url = reverse("admin:testapp_category_changelist") + "?deleted=deleted"
    data = {"action": "restore_selected", ACTION_CHECKBOX_NAME: [old.pk]}
    page = admin_client.post(url, data).content.decode()
    assert "is taken by an alive row" in page
    assert "Yes, restore" not in page
    assert Category.deleted_objects.count() == 1


def test_hard_delete_confirmation_lists_the_real_cascade(admin_client):
    comment = CommentFactory(text="doomed comment")
    post = comment.post
    data = {"action": "hard_delete_selected", ACTION_CHECKBOX_NAME: [post.pk]}
    page = admin_client.post(CHANGELIST, data).content.decode()
    assert "doomed comment" in page
    assert "It cannot be undone" in page
    assert Post.all_objects.count() == 1

    admin_client.post(CHANGELIST, {**data, "post": "yes"})
    assert not Post.all_objects.exists()
    assert not Comment.all_objects.exists()


def test_actions_need_delete_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_post", "change_post"]))
    client.force_login(user)
    post = PostFactory()
    post.delete()
    data = {"action": "hard_delete_selected", ACTION_CHECKBOX_NAME: [post.pk], "post": "yes"}
    client.post(CHANGELIST + "?deleted=deleted", data)
    assert Post.all_objects.count() == 1
    response = client.get(CHANGELIST)
    assert "hard_delete_selected" not in response.content.decode()
