"""The quickstart, followed literally in a new project, from a wheel built from this tree.

Extracts the blocks of docs/quickstart.md (files and shell commands, in order) and runs
them in a temporary folder with a fresh virtual environment in which the wheel is
installed: ``setup``, ``makemigrations``, ``migrate``, ``check``, and the new project's own
pytest run (the leak kit and a DRF token request that sees its tenant's rows only).

What is not taken literally, and why: ``pip install django-prodpatterns`` installs the
wheel just built instead of a release; the server's address and superuser are the ones
this suite runs on (127.0.0.1:5432 with DATABASE_URL, else the embedded server); the
database and role names get a suffix of their own, so that runs side by side and a
user's own ``shop`` database are never touched. Everything is dropped again at the end.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from psycopg import sql as pgsql

from django_prodpatterns.devserver import embedded

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "quickstart.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_LINE = re.compile(r"^#\s*(\S+\.\w+)(\s+\(append\))?\s*$")
PACKAGE = "django-prodpatterns"
NOT_SOURCES = (".git", ".pgdata", "build", "dist", "site", "*.egg-info", "__pycache__", ".tox")


def without_warnings_as_errors(env: dict[str, str]) -> dict[str, str]:
    """``env`` for pip, without the ``PYTHONWARNINGS`` of a warnings-as-errors run (tox -e
    warnings, .ci/run): pip's vendored pkg_resources warns that it is deprecated when pip
    starts, and pip is a tool here, not code of ours. The project's own commands keep it."""
    return {key: value for key, value in env.items() if key != "PYTHONWARNINGS"}


def steps(text: str) -> list[tuple[str, ...]]:
    """("file", path, content, append) and ("run", command) in the page's order."""
    found: list[tuple[str, ...]] = []
    for language, body in BLOCK.findall(text):
        first, _, rest = body.partition("\n")
        named = FILE_LINE.match(first)
        if named and language in ("python", "toml", "ini", "cfg"):
            found.append(("file", named.group(1), rest, "append" if named.group(2) else ""))
        elif language == "sh":
            found.extend(
                ("run", line.strip())
                for line in body.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            )
    return found


def test_the_page_has_the_steps_the_acceptance_names():
    """The extraction itself: every step the quickstart promises is on the page."""
    commands = [step[1] for step in steps(PAGE.read_text()) if step[0] == "run"]
    for expected in (
        f"pip install {PACKAGE}",
        "django-admin startproject",
        "prodpatterns setup --superuser-url",
        "makemigrations",
        "migrate --database owner",
        "check --database default",
        "pytest",
    ):
        assert any(command.startswith(expected) or expected in command for command in commands)
    files = [step[1] for step in steps(PAGE.read_text()) if step[0] == "file"]
    assert "shop/settings.py" in files and "billing/tests.py" in files


def server() -> dict:
    """The superuser settings of the server this suite runs on."""
    return settings.SETUP_DATABASE


def superuser_url(admin: dict) -> str:
    host = admin.get("HOST") or "127.0.0.1"
    password = f":{quote(admin['PASSWORD'], safe='')}" if admin.get("PASSWORD") else ""
    user = quote(admin["USER"], safe="")
    return f"postgresql://{user}{password}@{quote(host, safe='')}:{admin['PORT']}/postgres"


def localise(text: str, suffix: str, admin: dict) -> str:
    """This run's server and names in a block of the page."""
    host = admin.get("HOST") or "127.0.0.1"
    text = re.sub(r"postgres://postgres@127\.0\.0\.1:5432/postgres", superuser_url(admin), text)
    text = text.replace('"HOST": "127.0.0.1"', f'"HOST": {host!r}')
    text = text.replace('"PORT": "5432"', f'"PORT": {str(admin["PORT"])!r}')
    for name in ("shop_app", "shop_owner"):
        text = text.replace(f'"{name}"', f'"{name}_{suffix}"')
    return text.replace('"NAME": "shop"', f'"NAME": "shop_{suffix}"')


def install_command(command: str, wheel: Path) -> list[str]:
    """The page's ``pip install`` with the wheel in place of the published package."""
    words = shlex.split(command)
    return ["python", "-m", *[str(wheel) if word == PACKAGE else word for word in words]]


@pytest.fixture
def workspace(tmp_path):
    """A folder, a wheel of this tree, a virtual environment; the database and roles the
    run made are dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    # built from a copy: setuptools writes build/ and *.egg-info next to the sources
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, env=without_warnings_as_errors(dict(os.environ)),
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    yield tmp_path, wheel, suffix
    with embedded.connect(server(), autocommit=True) as conn:
        for database in (f"test_shop_{suffix}", f"shop_{suffix}"):
            conn.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    pgsql.Identifier(database)
                )
            )
        for role in (f"shop_app_{suffix}", f"shop_owner_{suffix}"):
            conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(role)))


def test_the_quickstart_works_as_written(workspace):
    folder, wheel, suffix = workspace
    project = folder / "project"
    project.mkdir()
    venv_bin = folder / "venv" / "bin"
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")
        and not key.startswith(("PYTEST_", "PRODPATTERNS_"))
    }
    environment["PATH"] = f"{venv_bin}{os.pathsep}{environment.get('PATH', '')}"
    admin = server()
    outputs = []
    for step in steps(PAGE.read_text()):
        if step[0] == "file":
            _, path, content, append = step
            target = project / path
            target.parent.mkdir(parents=True, exist_ok=True)
            content = localise(content, suffix, admin)
            if append:
                content = target.read_text() + "\n" + content
            target.write_text(content)
            continue
        command = localise(step[1], suffix, admin)
        installs = command.startswith("pip install")
        argv = install_command(command, wheel) if installs else shlex.split(command)
        env = without_warnings_as_errors(environment) if installs else environment
        done = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        outputs.append(f"$ {command}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, "\n".join(outputs)
    # the project's own pytest run: both of its tests ran and passed
    assert re.search(r"\b2 passed\b", outputs[-1]), outputs[-1]
    assert "System check identified no issues" in "\n".join(outputs)

    # manage.py test, with the runner the page names: the same set-up for unittest cases
    (project / "billing" / "test_unittest.py").write_text(UNITTEST_CASE)
    manage_test = ["python", "manage.py", "test", "billing.test_unittest", "--noinput"]
    run = {"cwd": project, "env": environment, "capture_output": True, "text": True}
    plain = subprocess.run(manage_test, **run, timeout=600)
    assert plain.returncode != 0
    assert "permission denied to create database" in plain.stderr + plain.stdout
    runner = "--testrunner=django_prodpatterns.testing.DiscoverRunner"
    done = subprocess.run([*manage_test, runner], **run, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr


UNITTEST_CASE = """
from django.test import TestCase

from django_prodpatterns.models import Tenant
from django_prodpatterns.testing import assert_tenant_isolation

from .models import Invoice


class InvoiceIsolation(TestCase):
    def test_invoices_are_isolated(self):
        tenants = tuple(Tenant.objects.create(name=n, slug=n) for n in ("a", "b"))
        assert_tenant_isolation(
            Invoice, lambda t: Invoice(number="1", amount=10), tenants=tenants, using="default"
        )
"""
