"""The app's commands record who ran them: ``--actor``, and always the OS user.

An audit entry written from a shell used to name nobody: no actor, no trace of the person
at the terminal. Now ``--actor <username>`` names the user, and every entry a command
writes carries the command and the operating-system user in its ``extra``.
"""

from __future__ import annotations

import getpass
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_prodpatterns.models import AuditLog
from tests.testapp.models import Document

pytestmark = pytest.mark.django_db


def run(*argv: str) -> str:
    out = StringIO()
    call_command(*argv, stdout=out)
    return out.getvalue()


def entries(document: Document, action: str) -> list[AuditLog]:
    return list(
        AuditLog.objects.filter(model="testapp.Document", object_pk=str(document.pk), action=action)
    )


@pytest.fixture
def operator():
    return get_user_model().objects.create_user(username="ops-olivia", password="x")


@pytest.mark.parametrize("with_actor", [True, False])
def test_soft_delete_and_restore_name_the_actor_and_the_os_user(operator, with_actor):
    document = Document.objects.create(title="report")
    actor = ["--actor", operator.username] if with_actor else []
    run("soft_delete", "testapp.Document", "--pk", str(document.pk), *actor, "--reason", "gdpr")
    run("restore_deleted", "testapp.Document", "--pk", str(document.pk), *actor)
    for command, (entry,) in (
        ("soft_delete", entries(document, "soft_delete")),
        ("restore_deleted", entries(document, "restore")),
    ):
        assert entry.extra["command"] == command
        assert entry.extra["os_user"] == getpass.getuser()
        if with_actor:
            assert entry.actor_id == str(operator.pk)
            assert entry.actor_repr == "ops-olivia"
        else:
            assert entry.actor_id is None
    assert entries(document, "soft_delete")[0].reason == "gdpr"


def test_purge_names_the_actor(operator):
    document = Document.objects.create(title="old")
    Document.all_objects.filter(pk=document.pk).update(
        deleted_at=timezone.now() - timedelta(days=90)
    )
    run(
        "purge_deleted",
        "--older-than",
        "30d",
        "--model",
        "testapp.Document",
        "--actor",
        operator.username,
    )
    (entry,) = entries(document, "delete")
    assert entry.actor_id == str(operator.pk)
    assert entry.extra["command"] == "purge_deleted"


def test_prune_audit_names_the_actor(operator):
    run("prune_audit", "--before", "2000-01-01", "--actor", operator.username)
    entry = AuditLog.objects.get(action="prune")
    assert entry.actor_id == str(operator.pk)


@pytest.mark.parametrize(
    "argv",
    [
        ("soft_delete", "testapp.Document", "--pk", "{pk}", "--actor", "nobody"),
        ("restore_deleted", "testapp.Document", "--pk", "{pk}", "--actor", "nobody"),
        ("purge_deleted", "--older-than", "1d", "--actor", "nobody"),
        ("prune_audit", "--before", "2000-01-01", "--actor", "nobody"),
    ],
)
def test_an_unknown_actor_is_one_line_and_changes_nothing(argv):
    document = Document.objects.create(title="kept")
    before = AuditLog.objects.count()
    with pytest.raises(CommandError) as excinfo:
        run(*(part.format(pk=document.pk) for part in argv))
    message = str(excinfo.value)
    assert "\n" not in message and "nobody" in message and "--actor" in message
    assert Document.objects.filter(pk=document.pk).exists()
    assert AuditLog.objects.count() == before
