"""Run ``manage.py demo`` in a child process on its own embedded database.

Shared by the demo test and the browser test. Not under pytest's ``tmp_path``: as root
the embedded server runs as another user that must traverse the folder's parents, and a
concurrent pytest resets its own root to 0700.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

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


def wait_for_login(proc, base, timeout=180):
    """The login page's (status, body) once it answers, or the last failure."""
    status, body = None, ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        status, body = get(f"{base}/admin/login/")
        if status == 200:
            break
        time.sleep(0.25)
    return status, body


@contextmanager
def demo_folder():
    """A temporary folder for the demo's database, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="prodpatterns-demo-"))
    try:
        yield folder
    finally:
        for leftover in postgres_processes(folder):
            leftover.kill()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def demo_server(tmp_path, *args):
    """Yield (process, base url, data folder, log file); stop it and its PostgreSQL
    afterwards.

    The demo's output goes to a file, not a pipe: a pipe nobody reads fills up (64 KB of
    request lines) and the server then blocks on its next write.
    """
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["PRODPATTERNS_PGDATA"] = str(tmp_path / "pgdata")
    log = tmp_path / "demo.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "demo", f"127.0.0.1:{port}", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}", tmp_path / "pgdata", log
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
