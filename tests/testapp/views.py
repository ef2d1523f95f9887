"""Views for the middleware tests; they read through the application role's alias."""

import asyncio
import logging

from django.db import connections
from django.http import JsonResponse

from django_prodpatterns.pagination import keyset_page
from tests.helpers import APP

from .models import Entry, Project


def _backend_pid():
    with connections[APP].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def projects(request):
    names = sorted(Project.objects.using(APP).values_list("name", flat=True))
    with connections[APP].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM testapp_project")  # raw SQL: RLS alone
        raw_count = cursor.fetchone()[0]
    return JsonResponse(
        {"tenant": request.tenant.pk, "names": names, "raw": raw_count, "pid": _backend_pid()}
    )


def needs_tenant(request):
    return JsonResponse({"count": Project.objects.using(APP).count()})


async def aprojects(request):
    await asyncio.sleep(0.001)  # let the other requests interleave
    names = sorted([p.name async for p in Project.objects.using(APP).all()])
    return JsonResponse({"tenant": request.tenant.pk, "names": names})


def touch_document(request):
    """Write a document; the audit entry must name whoever request.user is at write time."""
    from django.contrib.auth.models import User

    from .models import Document

    token_user = request.headers.get("X-Token-User")
    if token_user:  # what a token/JWT authentication inside the view does
        request.user = User.objects.get(username=token_user)
    document = Document.objects.using(APP).create(title=request.GET.get("title", "t"))
    return JsonResponse({"pk": document.pk, "request_id": request.request_id})


async def atouch_document(request):
    from asgiref.sync import sync_to_async

    from .models import Document

    await asyncio.sleep(0.001)
    document = await sync_to_async(Document.objects.using(APP).create)(
        title=request.GET.get("title", "t")
    )
    return JsonResponse({"pk": document.pk})


def counter(request, pk):
    """GET: the value with its ETag. POST: increment, from the version the client read."""
    from django.shortcuts import get_object_or_404

    from django_prodpatterns.http import check_if_match, etag

    from .models import Counter

    row = get_object_or_404(Counter, pk=pk)
    if request.method == "POST":
        check_if_match(request, row, required=request.GET.get("require") == "1")
        if "version" in request.POST:  # a form that carried the version it was built from
            row.version = row._loaded_version = int(request.POST["version"])
        row.value += 1
        row.save()
    response = JsonResponse({"value": row.value, "version": row.version})
    response.headers["ETag"] = etag(row)
    return response


def project_rename(request, pk):
    """A tenant-scoped write: another tenant's row is a 404, never a 409."""
    from django.shortcuts import get_object_or_404

    project = get_object_or_404(Project.objects.using(APP), pk=pk)
    project.name = "renamed"
    project.save(using=APP)
    return JsonResponse({"name": project.name})


def entries(request):
    page = keyset_page(request, Entry.objects.order_by("rank"), per_page=3)
    return JsonResponse(
        {"pks": [e.pk for e in page], "next": page.next_cursor, "previous": page.previous_cursor}
    )


def logged(request):
    """Logs one line while the request's context is in force (tests/test_logs.py)."""
    logging.getLogger("tests.requests").info("handled %s", request.path)
    return JsonResponse({"tenant": request.tenant.pk})


async def alogged(request):
    """The same from an async view."""
    logging.getLogger("tests.requests").info("handled %s", request.path)
    return JsonResponse({"tenant": request.tenant.pk})
