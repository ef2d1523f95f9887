"""Celery carries the context (django_prodpatterns.tasks.celery), against a real worker.

A worker (``celery worker --pool=threads --concurrency=2``) runs tests/celery_app.py in a
subprocess, on the pytest session's test database (tests/settings_worker.py) and with a
Redis database of its own (``redis_url()``: ``REDIS_URL``, or the embedded server) as
broker and result backend, on a queue named for this session. Every wait has a timeout, so
a stuck worker fails the test; the worker is stopped when the module ends.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from django_prodpatterns.context import LazyActor, audit_context, tenant_context
from django_prodpatterns.devserver.redis import redis_url
from django_prodpatterns.exceptions import TenantRequired
from django_prodpatterns.models import AuditLog
from tests.composed.models import Invoice
from tests.helpers import APP, CROSS

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds any one result may take
ALIASES = ("default", APP, CROSS)  # what the worker connects as, from this session
REDIS_DB = "/14"
QUEUE = f"prodpatterns-tests-{uuid.uuid4().hex[:12]}"

db = pytest.mark.django_db(transaction=True, databases=list(ALIASES))


def broker_url():
    """``redis_url()`` with the tests' own database number."""
    parts = urlsplit(redis_url())
    return urlunsplit(parts._replace(path=REDIS_DB))


def worker_databases():
    """The session's connection settings (the test database) as the worker needs them."""
    keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
    return {
        alias: {key: connections[alias].settings_dict.get(key) for key in keys} for alias in ALIASES
    }


def _measured() -> list[str]:
    """Under coverage (the coverage gate's run), the worker is measured too: its data goes
    beside the session's (``$COVERAGE_FILE.<suffix>``), which .ci/run combines."""
    try:
        import coverage
    except ImportError:
        return []
    return ["-m", "coverage", "run", "--parallel-mode"] if coverage.Coverage.current() else []


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    """A running worker; yields tests.celery_app (its tasks publish to that worker)."""
    url = broker_url()
    os.environ["PRODPATTERNS_CELERY_URL"] = url
    os.environ["PRODPATTERNS_CELERY_QUEUE"] = QUEUE
    from tests import celery_app

    celery_app.app.conf.update(broker_url=url, result_backend=url, task_default_queue=QUEUE)
    with django_db_blocker.unblock():
        databases = worker_databases()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
        "PRODPATTERNS_WORKER_DATABASES": json.dumps(databases),
        "CELERY_SKIP_CHECKS": "1",
    }
    # Where warnings are errors (PYTHONWARNINGS=error in .ci/run), two of the worker's own
    # are not this test's subject: run as root (CI machines), Celery warns that a worker
    # should not be; Celery's Redis result backend calls setex, which redis-py 8 deprecates.
    foreign_warnings = [
        *("-W", "ignore:You're running the worker with superuser privileges"),
        *("-W", "ignore:Call to deprecated setex:DeprecationWarning"),
    ]
    command = [sys.executable, *foreign_warnings, *_measured(), "-m", "celery"]
    command += ["-A", "tests.celery_app", "worker"]
    command += ["--pool=threads", "--concurrency=2", "-l", "warning", "-Q", QUEUE]
    command += ["-n", f"{QUEUE}@%h", "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                ping = celery_app.whoami.delay("ping").get(timeout=TIMEOUT)
            except Exception as exc:
                log.seek(0)
                output = log.read().decode(errors="replace")[-4000:]
                raise RuntimeError(f"The Celery worker did not answer: {exc!r}\n{output}") from exc
            assert ping["label"] == "ping"
            yield celery_app
        finally:
            process.terminate()  # a warm shutdown: running tasks finish
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker that does not stop
                process.kill()
                process.wait()


def result_of(async_result):
    return async_result.get(timeout=TIMEOUT)


def create_entry(number):
    """The audit entry of the invoice ``number``'s creation, read as the owner (the
    invoice is found as the cross-tenant role: it may belong to any tenant)."""
    invoice = Invoice._base_manager.using(CROSS).get(number=number)  # every tenant
    return AuditLog.objects.using("default").get(
        model="composed.Invoice", object_pk=str(invoice.pk), action="create"
    )


@pytest.fixture
def clerks(django_user_model):
    return (
        django_user_model.objects.create_user("clerk-a"),
        django_user_model.objects.create_user("clerk-b"),
    )


@db
def test_a_task_runs_in_its_tenant_and_the_audit_log_names_the_enqueuing_actor(
    worker, invoice_tenants, clerks
):
    a, b = invoice_tenants
    clerk, _ = clerks
    with tenant_context(b):
        Invoice.objects.using(APP).create(number="B-other")
    values = {"ip_address": "10.0.0.7", "path": "/orders/", "user_agent": "ua", "colour": "blue"}
    with tenant_context(a), audit_context(actor=clerk, reason="nightly", request_id="r1", **values):
        pending = worker.record.delay("A-1")
    out = result_of(pending)

    assert out["tenant"] == a.pk
    assert out["numbers"] == out["raw_numbers"] == ["A-1"]  # never B's row
    assert (out["actor"], out["actor_id"], out["request_id"]) == ("clerk-a", str(clerk.pk), "r1")
    entry = create_entry("A-1")
    assert (entry.actor_id, entry.actor_repr) == (str(clerk.pk), "clerk-a")
    assert (entry.tenant_id, entry.request_id, entry.reason) == (str(a.pk), "r1", "nightly")
    assert (entry.ip_address, entry.path, entry.user_agent) == ("10.0.0.7", "/orders/", "ua")
    assert entry.extra == {
        "colour": "blue",
        "task": "tests.celery_app.record",
        "task_id": pending.id,
    }


@db
def test_two_tenants_tasks_interleaved_on_one_worker_never_see_each_other(
    worker, invoice_tenants, clerks
):
    tenants = dict(zip("AB", invoice_tenants, strict=True))
    actors = dict(zip("AB", clerks, strict=True))
    pending = []
    for i in range(4):
        for tag in "AB":
            with (
                tenant_context(tenants[tag]),
                audit_context(actor=actors[tag], request_id=f"req-{tag}{i}"),
            ):
                pending.append((tag, i, worker.record.delay(f"{tag}-{i}", pause=0.3)))
    outs = [(tag, i, result_of(p)) for tag, i, p in pending]

    assert len({out["thread"] for _, _, out in outs}) == 2  # both threads ran tasks
    for tag, i, out in outs:
        assert out["tenant"] == out["tenant_before"] == tenants[tag].pk
        for seen in (out, out["first"]):  # before and after the other thread's tasks ran
            assert seen["numbers"] and all(n.startswith(f"{tag}-") for n in seen["numbers"])
            assert seen["raw_numbers"] == seen["numbers"]
            assert (seen["actor"], seen["request_id"]) == (f"clerk-{tag.lower()}", f"req-{tag}{i}")
        entry = create_entry(f"{tag}-{i}")
        assert entry.actor_id == str(actors[tag].pk)
        assert (entry.tenant_id, entry.request_id) == (str(tenants[tag].pk), f"req-{tag}{i}")

    # The worker's threads kept nothing: tasks enqueued with no context see none.
    later = [worker.whoami.delay(f"after-{i}", pause=0.2) for i in range(4)]
    for p in later:
        out = result_of(p)
        assert (out["tenant"], out["actor"], out["request_id"], out["reason"]) == (None,) * 4
        assert out["numbers"] == out["raw_numbers"] == []
        assert out["extra"] == {"task": "tests.celery_app.whoami", "task_id": p.id}


@db
def test_a_task_enqueued_without_a_tenant_refuses_before_its_body_runs(worker, clerks):
    from tests.testapp.models import Article

    clerk, _ = clerks
    plain = worker.record.delay("N-1")
    with audit_context(actor=clerk, request_id="r-none"):  # an actor is no tenant
        acting = worker.record.delay("N-2")
    for pending in (plain, acting):
        pending.get(timeout=TIMEOUT, propagate=False)
        assert pending.state == "FAILURE"
        assert isinstance(pending.result, TenantRequired)
        assert "tests.celery_app.record" in str(pending.result)
        assert "tenant_free=True" in str(pending.result)
    titles = set(Article.objects.using("default").values_list("title", flat=True))
    assert not {"ran N-1", "ran N-2"} & titles  # the body never ran
    assert not Invoice._base_manager.using(CROSS).filter(number__startswith="N-").exists()


@db
def test_a_tenant_free_task_runs_without_a_tenant_and_keeps_the_actor(worker, clerks):
    clerk, _ = clerks
    with audit_context(actor=clerk, request_id="r-free"):
        pending = worker.whoami.delay("free")
    out = result_of(pending)
    assert (out["tenant"], out["actor"], out["request_id"]) == (None, "clerk-a", "r-free")
    assert out["numbers"] == []


@db
def test_chains_groups_and_chords_carry_the_context_to_every_task(worker, invoice_tenants, clerks):
    from celery import chain, chord, group

    a, b = invoice_tenants
    clerk, _ = clerks
    with tenant_context(b):
        Invoice.objects.using(APP).create(number="B-other")
    record = worker.record
    with tenant_context(a), audit_context(actor=clerk, request_id="r-canvas"):
        chained = chain(record.si("C-1"), record.si("C-2"), record.si("C-3")).apply_async()
        grouped = group(record.si("G-1"), record.si("G-2")).apply_async()
        chorded = chord([record.si("H-1"), record.si("H-2")], worker.summarize.s()).apply_async()

    outs, node = [], chained
    while node is not None:
        outs.append(result_of(node))
        node = node.parent
    outs += grouped.get(timeout=TIMEOUT)
    summary = result_of(chorded)
    outs += [*summary["header"], summary["body"]]

    assert sorted(out["label"] for out in outs) == sorted(
        ["C-1", "C-2", "C-3", "G-1", "G-2", "H-1", "H-2", "body"]
    )
    for out in outs:
        assert (out["tenant"], out["actor"], out["request_id"]) == (a.pk, "clerk-a", "r-canvas")
        assert "B-other" not in out["numbers"] and "B-other" not in out["raw_numbers"]
    task_ids = set()
    for number in ("C-1", "C-2", "C-3", "G-1", "G-2", "H-1", "H-2"):
        entry = create_entry(number)
        assert (entry.actor_id, entry.tenant_id) == (str(clerk.pk), str(a.pk))
        assert entry.request_id == "r-canvas"
        task_ids.add(entry.extra["task_id"])
    assert len(task_ids) == 7  # each entry names its own task


@db
def test_a_retry_keeps_the_context(worker, invoice_tenants, clerks):
    a, _ = invoice_tenants
    clerk, _ = clerks
    with tenant_context(a), audit_context(actor=clerk, request_id="r-retry", reason="flaky"):
        pending = worker.flaky.delay("R-1")
    out = result_of(pending)
    assert out["retries"] == 1  # this is the retry's run
    assert (out["tenant"], out["actor"], out["request_id"]) == (a.pk, "clerk-a", "r-retry")
    entry = create_entry("R-1")
    assert (entry.actor_id, entry.tenant_id) == (str(clerk.pk), str(a.pk))
    assert (entry.request_id, entry.reason) == ("r-retry", "flaky")
    assert entry.extra == {"task": "tests.celery_app.flaky", "task_id": pending.id}


# --- in this process: the header, eager runs, install() ------------------------------------


@db
def test_the_header_is_json_and_resolves_a_lazy_actor_when_published(invoice_tenants, clerks):
    from django_prodpatterns.tasks.celery import context_header

    a, _ = invoice_tenants
    clerk, _ = clerks
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    assert context_header() is None
    with tenant_context(a), audit_context(actor=LazyActor(lambda: clerk), request_id="r", at=when):
        header = context_header()
    assert json.loads(json.dumps(header)) == header
    assert header == {
        "tenant": a.pk,
        "actor": clerk.pk,
        "actor_repr": "clerk-a",
        "reason": None,
        "request_id": "r",
        "ip_address": None,
        "user_agent": None,
        "path": None,
        "extra": {"at": "2024-05-01 00:00:00+00:00"},
    }


@db
def test_an_eager_run_keeps_the_callers_context_and_adds_the_task(invoice_tenants, clerks):
    from tests import celery_app

    a, _ = invoice_tenants
    clerk, _ = clerks
    with tenant_context(a), audit_context(actor=clerk, request_id="r-eager"):
        out = celery_app.whoami.apply(args=["eager"]).get()
    assert (out["tenant"], out["actor"], out["request_id"]) == (a.pk, "clerk-a", "r-eager")
    assert out["extra"]["task"] == "tests.celery_app.whoami"


def test_install_refuses_a_base_class_it_cannot_make_tenant_scoped():
    from celery import Celery, Task

    from django_prodpatterns.tasks.celery import ContextTask, install

    class Own(Task):
        pass

    with pytest.raises(ImproperlyConfigured, match="not a subclass of"):
        install(Celery("own", task_cls=Own, set_as_current=False))
    late = Celery("late", set_as_current=False)
    assert late.Task is not None  # the base class is made
    with pytest.raises(ImproperlyConfigured, match="came after"):
        install(late)
    fresh = Celery("fresh", set_as_current=False)
    install(fresh)
    assert issubclass(fresh.Task, ContextTask)
    assert hasattr(fresh.Task, "delay_on_commit")  # Celery's DjangoTask is kept

    def job():
        return None

    assert fresh.task(job, name="t-free", tenant_free=True).tenant_free is True
    assert fresh.task(job, name="t-scoped").tenant_free is False
