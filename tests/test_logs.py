"""The context on every log record (django_prodpatterns.logs).

Each record says whose request it belongs to (tenant, actor, request id), in a plain line
and in a structured (JSON) one; outside every context it says "-", never a value left
over from another request; in a request through the middleware (sync and async views)
it names that request's tenant, user and id.
"""

import asyncio
import json
import logging
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from django_prodpatterns.context import LazyActor, audit_context, tenant_context
from django_prodpatterns.logs import ContextFilter, JsonFormatter
from tests.helpers import APP
from tests.testapp.models import Member

PLAIN = "%(levelname)s [%(tenant)s %(actor)s %(request_id)s] %(message)s"


@pytest.fixture
def lines():
    """Records of the logger "tests.requests" (and "tests.logs"), formatted plain and as
    JSON, through ContextFilter: ``lines()`` returns both lists."""
    plain, structured = StringIO(), StringIO()
    handlers = []
    for stream, formatter in ((plain, logging.Formatter(PLAIN)), (structured, JsonFormatter())):
        handler = logging.StreamHandler(stream)
        handler.addFilter(ContextFilter())
        handler.setFormatter(formatter)
        handlers.append(handler)
    loggers = [logging.getLogger(name) for name in ("tests.requests", "tests.logs")]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        for handler in handlers:
            logger.addHandler(handler)
    yield lambda: (
        plain.getvalue().splitlines(),
        [json.loads(line) for line in structured.getvalue().splitlines()],
    )
    for logger in loggers:
        for handler in handlers:
            logger.removeHandler(handler)


LOG = logging.getLogger("tests.logs")


def test_a_record_says_the_context_in_force_and_dashes_outside_it(lines):
    LOG.info("before")
    with tenant_context(7), audit_context(actor=42, request_id="req-1"):
        LOG.info("inside")
        with tenant_context(8):
            LOG.info("nested")
        LOG.warning("back")
    LOG.info("after")
    plain, structured = lines()
    assert plain == [
        "INFO [- - -] before",
        "INFO [7 42 req-1] inside",
        "INFO [8 42 req-1] nested",
        "WARNING [7 42 req-1] back",
        "INFO [- - -] after",
    ]
    assert [(r["tenant"], r["actor"], r["request_id"]) for r in structured] == [
        ("-", "-", "-"),
        ("7", "42", "req-1"),
        ("8", "42", "req-1"),
        ("7", "42", "req-1"),
        ("-", "-", "-"),
    ]
    assert structured[3]["level"] == "WARNING" and structured[3]["logger"] == "tests.logs"
    assert structured[1]["message"] == "inside" and structured[1]["time"].endswith("+00:00")


def test_a_value_given_with_the_call_is_kept_and_exceptions_are_written(lines):
    with tenant_context(7):
        LOG.info("explicit", extra={"tenant": "given"})
        try:
            raise ValueError("boom")
        except ValueError:
            LOG.exception("failed")
    plain, structured = lines()
    assert plain[0] == "INFO [given - -] explicit"
    assert structured[0]["tenant"] == "given"
    assert structured[1]["tenant"] == "7" and "ValueError: boom" in structured[1]["exception"]


def test_an_actor_that_cannot_be_worked_out_leaves_the_actor_unset(lines):
    """A lazy actor is worked out when the record is made; if that fails, the line is
    still written (logging never raises for the context)."""

    def broken():
        raise RuntimeError("no session")

    with audit_context(actor=LazyActor(broken), request_id="req-2"):
        LOG.info("still logged")
    with audit_context(actor=LazyActor(lambda: 5)):
        LOG.info("lazy")
    plain, _ = lines()
    assert plain == ["INFO [- - req-2] still logged", "INFO [- 5 -] lazy"]


def test_concurrent_tasks_each_log_their_own_context(lines):
    """Context variables follow each asyncio task: interleaved lines never swap values."""

    async def work(tenant):
        with tenant_context(tenant), audit_context(request_id=f"r{tenant}"):
            for step in range(3):
                LOG.info("step %s", step)
                await asyncio.sleep(0)

    async def both():
        await asyncio.gather(work(1), work(2))

    asyncio.run(both())
    _, structured = lines()
    assert len(structured) == 6
    assert {(r["tenant"], r["request_id"]) for r in structured} == {("1", "r1"), ("2", "r2")}
    assert [r["tenant"] for r in structured] != ["1"] * 3 + ["2"] * 3  # really interleaved


@pytest.mark.django_db(transaction=True, databases=["default", APP])
@pytest.mark.parametrize("path", ["/logged/", "/alogged/"], ids=["sync", "async"])
def test_a_request_logs_its_tenant_user_and_id(tenant_pair, lines, path, settings):
    a, _ = tenant_pair
    # Users are members through Member (also under tests.settings_bare, which sets nothing).
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "TENANT_USER_ATTRIBUTE": "member.tenant"}
    user = User.objects.create_user("logger")
    Member.objects.create(user=user, tenant_id=a.pk)
    headers = {"X-Request-ID": "req-http"}
    if path == "/alogged/":
        client = AsyncClient()
        client.force_login(user)
        response = asyncio.run(client.get(path, headers=headers))
    else:
        client = Client()
        client.force_login(user)
        response = client.get(path, headers=headers)
    assert response.status_code == 200
    plain, structured = lines()
    assert plain[-1] == f"INFO [{a.pk} {user.pk} req-http] handled {path}"
    assert structured[-1]["tenant"] == str(a.pk)
    user.delete()


def test_the_json_formatter_reads_the_context_itself_without_the_filter():
    """A handler without ContextFilter: the structured line still says the context."""
    record = logging.LogRecord("tests.logs", logging.INFO, __file__, 1, "bare", None, None)
    with tenant_context(9), audit_context(actor=3, request_id="req-bare"):
        line = json.loads(JsonFormatter().format(record))
    assert (line["tenant"], line["actor"], line["request_id"]) == ("9", "3", "req-bare")
    assert json.loads(JsonFormatter().format(record))["tenant"] == "-"
