"""The Celery app of tests/test_tasks_celery.py: a worker started by the tests runs it.

Broker and result backend: ``PRODPATTERNS_CELERY_URL`` (a Redis database of the tests' own);
queue: ``PRODPATTERNS_CELERY_QUEUE`` (one per test session, so nothing else on that Redis
takes its messages). The tasks import models inside their bodies: the worker imports this
module before Django is set up.
"""

import os
import threading
import time

from celery import Celery

from django_prodpatterns.tasks.celery import install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings_worker")

URL = os.environ.get("PRODPATTERNS_CELERY_URL", "redis://127.0.0.1:6379/14")
QUEUE = os.environ.get("PRODPATTERNS_CELERY_QUEUE", "prodpatterns-tests")

app = Celery("prodpatterns_tests")
install(app)
app.conf.update(
    broker_url=URL,
    result_backend=URL,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
    result_expires=600,
)


def seen(label):
    """What the task sees: its tenant, its actor and audit values, and the invoices that
    the application role can read: row-level security alone decides (the base manager
    adds no tenant filter), so the rows show which tenant the database saw."""
    from django.db import connections

    from django_prodpatterns.context import get_audit_info, get_current_tenant_pk
    from tests.composed.models import Invoice

    info = get_audit_info()
    with connections["app"].cursor() as cursor:
        cursor.execute("SELECT number FROM composed_invoice ORDER BY number")
        raw = [row[0] for row in cursor.fetchall()]
    return {
        "label": label,
        "tenant": get_current_tenant_pk(),
        "actor": None if info is None or info.actor is None else str(info.actor),
        "actor_id": None if info is None else info.actor_id or None,
        "request_id": None if info is None else info.request_id,
        "reason": None if info is None else info.reason,
        "extra": None if info is None else dict(info.extra),
        "numbers": sorted(Invoice._base_manager.using("app").values_list("number", flat=True)),
        "raw_numbers": raw,
        "thread": threading.current_thread().name,
    }


@app.task
def record(number, pause=0.0):
    """Write an audited invoice in the carried tenant, then report what the task saw
    (twice, ``pause`` seconds apart, so that tasks on the other thread run in between)."""
    from django_prodpatterns.context import get_current_tenant_pk
    from tests.composed.models import Invoice
    from tests.testapp.models import Article

    # A row no tenant owns: its absence proves the body never ran.
    Article.objects.using("app").create(title=f"ran {number}")
    invoice = Invoice.objects.using("app").create(number=number)
    first = seen(number)
    time.sleep(pause)
    second = seen(number)
    return {**second, "pk": invoice.pk, "first": first, "tenant_before": get_current_tenant_pk()}


@app.task(tenant_free=True)
def whoami(label="", pause=0.0):
    """A tenant-free task: runs with no tenant and says what context it has."""
    time.sleep(pause)
    return seen(label)


@app.task(bind=True, max_retries=3, default_retry_delay=0)
def flaky(self, number):
    """Fails its first run and retries itself; the retry writes and reports."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return {**record.run(number), "retries": self.request.retries}


@app.task
def summarize(results):
    """A chord's body: the header's results and what the body itself saw."""
    return {"header": results, "body": seen("body")}
