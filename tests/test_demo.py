"""``manage.py demo`` on a fresh embedded database: the README's first command, end to end."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_processes(data_dir):
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(str(data_dir) in part for part in cmdline) and "postgres" in " ".join(cmdline):
            found.append(proc)
    return found


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except OSError:
        return None, ""


@pytest.fixture
def demo():
    """Run ``manage.py demo`` on its own embedded database in a temporary folder.

    Not under pytest's ``tmp_path``: as root the embedded server runs as another user that
    must traverse the folder's parents, and a concurrent pytest resets its own root to 0700.
    """
    tmp_path = Path(tempfile.mkdtemp(prefix="prodpatterns-demo-"))
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["PRODPATTERNS_PGDATA"] = str(tmp_path / "pgdata")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "demo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}", tmp_path / "pgdata"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for leftover in postgres_processes(tmp_path / "pgdata"):
            leftover.kill()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_demo_serves_the_admin_login_and_stops_cleanly(demo):
    proc, base, data_dir = demo
    status, body = None, ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        status, body = get(f"{base}/admin/login/")
        if status == 200:
            break
        time.sleep(0.25)
    assert status == 200, proc.stdout.read() if proc.poll() is not None else "no answer"
    assert 'name="username"' in body
    assert postgres_processes(data_dir), "the demo should run on its own embedded server"

    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert "user 'admin' password 'admin'" in output
    deadline = time.monotonic() + 10
    while postgres_processes(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postgres_processes(data_dir) == []
