"""``manage.py for_each_tenant``: a command once per tenant, in that tenant's context.

Each run sees its tenant's rows only (through the managers and through raw SQL as the
application role), a failing tenant does not stop the others but makes the exit status
non-zero with a summary, a selection runs exactly the tenants named, parallel runs keep
each tenant's context apart, and bad input is refused before anything runs.
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import Tenant
from tests.helpers import APP
from tests.testapp.models import Project

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])

PROBE = re.compile(r"tenant=(\S+) projects=(\S*) raw=(\d+)")


@pytest.fixture
def projects(tenant_pair):
    """One project per tenant of the pair, named after it."""
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Project.objects.using(APP).create(name=f"p{tenant.pk}", code=f"c{tenant.pk}")
    yield tenant_pair
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Project.objects.using(APP).all().delete()


def run(*args):
    out = StringIO()
    call_command("for_each_tenant", *args, stdout=out)
    return out.getvalue()


def probes(output):
    """{tenant key: (projects, raw count)} from the probe's lines."""
    return {t: (names, int(raw)) for t, names, raw in PROBE.findall(output)}


def test_every_tenant_runs_in_its_own_context(projects):
    a, b = projects
    output = run("tenant_probe")
    seen = probes(output)
    assert set(seen) == {str(pk) for pk in Tenant.objects.values_list("pk", flat=True)}
    assert seen[str(a.pk)] == (f"p{a.pk}", 1) and seen[str(b.pk)] == (f"p{b.pk}", 1)
    total = Tenant.objects.count()
    assert f"{total} tenant(s): {total} ok, 0 failed" in output
    assert f"[1/{total}]" in output and f"[{total}/{total}]" in output


def test_a_selection_runs_those_tenants_only_with_the_commands_arguments(projects):
    _, b = projects
    output = run("--tenant", str(b.pk), "tenant_probe", "--sleep", "0")
    assert probes(output) == {str(b.pk): (f"p{b.pk}", 1)}
    assert "1 tenant(s): 1 ok, 0 failed" in output


@pytest.mark.parametrize("parallel", ["1", "2"])
def test_a_failing_tenant_is_reported_and_the_others_still_run(projects, parallel):
    a, b = projects
    out = StringIO()
    with pytest.raises(CommandError, match=r"2 tenant\(s\): 1 ok, 1 failed \(" + str(a.pk)):
        call_command(
            "for_each_tenant",
            "--parallel",
            parallel,
            "--tenant",
            str(a.pk),
            "--tenant",
            str(b.pk),
            "tenant_probe",
            "--fail-for",
            str(a.pk),
            stdout=out,
        )
    output = out.getvalue()
    assert "FAILED in" in output and f"CommandError: refused for {a.pk}" in output
    assert probes(output) == {str(b.pk): (f"p{b.pk}", 1)}


def test_parallel_runs_keep_each_tenants_context(projects):
    a, b = projects
    output = run(
        "--parallel",
        "2",
        "--tenant",
        str(a.pk),
        "--tenant",
        str(b.pk),
        "tenant_probe",
        "--sleep",
        "0.2",
    )
    assert probes(output) == {str(a.pk): (f"p{a.pk}", 1), str(b.pk): (f"p{b.pk}", 1)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_command"], "Unknown command 'no_such_command'"),
        (["for_each_tenant", "tenant_probe"], "cannot run itself"),
        (["--parallel", "0", "tenant_probe"], "--parallel takes"),
        (
            ["--tenant", "999999999", "tenant_probe"],
            "No prodpatterns.Tenant with primary key 999999999",
        ),
        (["--tenant", "x", "tenant_probe"], "--tenant takes prodpatterns.Tenant primary keys"),
    ],
    ids=["unknown", "itself", "parallel", "missing-tenant", "bad-key"],
)
def test_bad_input_is_refused_before_anything_runs(projects, args, message):
    out = StringIO()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("for_each_tenant", *args, stdout=out)
    assert probes(out.getvalue()) == {}


def test_the_command_exits_non_zero_with_one_line_when_a_tenant_fails(projects, fails):
    a, _ = projects
    status, stderr = fails(
        "for_each_tenant", "--tenant", str(a.pk), "tenant_probe", "--fail-for", str(a.pk)
    )
    assert status == 1
    assert stderr.strip().splitlines()[-1].startswith("CommandError: 1 tenant(s): 0 ok, 1 failed")
