"""Proxies of the bases in the admin: soft-delete filters and restore, the version carried
by the change form, and "History" opening the concrete model's audit entries."""

import pytest
from django.urls import reverse

from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db


def names(response):
    return sorted(str(obj.name) for obj in response.context["cl"].result_list)


def test_a_soft_delete_proxy_lists_alive_rows_and_restores_through_the_admin(admin_client):
    alive = zoo.DocProxy.objects.create(name="alive")
    dead = zoo.DocProxy.objects.create(name="dead")
    zoo.Page.objects.create(doc=dead, number=1)
    dead.delete()
    changelist = reverse("admin:menagerie_docproxy_changelist")
    assert names(admin_client.get(changelist)) == ["alive"]
    assert names(admin_client.get(changelist, {"deleted": "deleted"})) == ["dead"]
    done = admin_client.post(
        changelist + "?deleted=deleted",
        {"action": "restore_selected", "_selected_action": [dead.pk], "post": "yes"},
    )
    assert done.status_code == 302
    assert set(zoo.DocProxy.objects.values_list("name", flat=True)) == {"alive", "dead"}
    assert zoo.Page.objects.count() == 1
    assert alive.pk


def test_a_versioned_proxy_refuses_a_stale_admin_save(admin_client):
    ticket = zoo.TicketProxy.objects.create(title="first")
    url = reverse("admin:menagerie_ticketproxy_change", args=[ticket.pk])
    form = admin_client.get(url)
    assert form.status_code == 200
    zoo.Ticket.objects.filter(pk=ticket.pk).update(title="meanwhile")  # version 2
    stale = admin_client.post(url, {"title": "mine", "version": "1"})
    assert stale.status_code == 200  # the form again, with the error
    assert zoo.Ticket.objects.get(pk=ticket.pk).title == "meanwhile"


def test_history_of_an_audited_proxy_opens_the_concrete_models_entries(admin_client):
    entry = zoo.EntryProxy.objects.create(text="t")
    response = admin_client.get(reverse("admin:menagerie_entryproxy_history", args=[entry.pk]))
    assert response.status_code == 302
    assert "model=menagerie.Entry&" in response.url
    log = admin_client.get(response.url)
    assert [e.object_pk for e in log.context["cl"].result_list] == [str(entry.pk)]
