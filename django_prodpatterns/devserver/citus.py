"""A Citus cluster on this machine, and databases on it, for the Citus tests and benchmarks.

Citus itself is installed for a PostgreSQL of the machine (``citus.so`` in its library
folder; Citus's own packages, or a build of its public source); this module finds it,
starts a coordinator and workers on local ports (``start_cluster``; ``python -m
django_prodpatterns.devserver.citus start DIR``), and makes and drops databases on a running
cluster. Citus does not propagate ``CREATE DATABASE``: a new database needs creating on
every node, the extension in each, and the coordinator told which nodes it has. The roles
of :mod:`django_prodpatterns.ops.roles` get what Citus needs
(``citus.propagate_set_commands``, see :mod:`~django_prodpatterns.ops.citus`).
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql as pgsql

from ..ops.citus import configure_role
from ..ops.roles import APP_ROLE, CROSS_TENANT_ROLE, OWNER_ROLE, Connection, ensure_role
from .embedded import LocalDatabases, connect, local_databases


@dataclass(frozen=True)
class Node:
    """One server of the cluster, as the coordinator knows it."""

    host: str
    port: int


def workers(admin: dict[str, Any]) -> list[Node]:
    """The primary workers registered on the coordinator ``admin`` points at."""
    with connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nodename, nodeport FROM pg_catalog.pg_dist_node"
            " WHERE noderole = 'primary' AND groupid <> 0 AND isactive ORDER BY nodeid"
        ).fetchall()
    return [Node(host, port) for host, port in rows]


def create_database(admin: dict[str, Any], name: str) -> LocalDatabases:
    """(Re)create database ``name`` on every node of ``admin``'s cluster, owned by the owner
    role, with the extension in each and the workers registered; the roles made and set up
    for Citus. Returns ``DATABASES`` entries for it."""
    nodes = workers(admin)
    if not nodes:
        raise RuntimeError("The Citus coordinator has no active workers: add them first.")
    with connect(admin, autocommit=True) as conn:
        for role in (OWNER_ROLE, APP_ROLE, CROSS_TENANT_ROLE):
            ensure_role(conn, role)  # Citus propagates roles to the workers
            configure_role(conn, role.name)
    coordinator = Node(admin.get("HOST") or "127.0.0.1", int(admin.get("PORT") or 5432))
    for node in [coordinator, *nodes]:
        server = {**admin, "HOST": node.host, "PORT": str(node.port), "NAME": "postgres"}
        with connect(server, autocommit=True) as conn:
            _drop(conn, name)
            conn.execute(
                pgsql.SQL("CREATE DATABASE {} OWNER {}").format(
                    pgsql.Identifier(name), pgsql.Identifier(OWNER_ROLE.name)
                )
            )
        with connect({**server, "NAME": name}, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with connect({**admin, "NAME": name}, autocommit=True) as conn:
        conn.execute(
            "SELECT citus_set_coordinator_host(%s, %s)", [coordinator.host, coordinator.port]
        )
        for node in nodes:
            conn.execute("SELECT citus_add_node(%s, %s)", [node.host, node.port])
    return local_databases(admin, name)


def drop_database(admin: dict[str, Any], name: str) -> None:
    """Drop database ``name`` on every node of ``admin``'s cluster."""
    coordinator = Node(admin.get("HOST") or "127.0.0.1", int(admin.get("PORT") or 5432))
    for node in [coordinator, *workers(admin)]:
        server = {**admin, "HOST": node.host, "PORT": str(node.port), "NAME": "postgres"}
        with connect(server, autocommit=True) as conn:
            _drop(conn, name)


def _drop(conn: Connection, name: str) -> None:
    drop = pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    conn.execute(drop.format(pgsql.Identifier(name)))


# --- a cluster of local servers ---------------------------------------------------------


def find_citus() -> Path | None:
    """The ``bin`` folder of a PostgreSQL of this machine that has Citus installed (the
    newest such version), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/lib/citus.so"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent.parent / "bin" if found else None


def _run(command: list[str]) -> None:
    """Run a server command, as the ``postgres`` system user when this process is root
    (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def start_cluster(folder: Path, port: int = 9700, workers: int = 2) -> dict[str, Any]:
    """Start a coordinator on ``port`` and ``workers`` workers on the ports after it, each
    a server in ``folder`` (created if missing, reused if there), trust authentication on
    127.0.0.1 only; the workers registered in the ``postgres`` database. Returns the
    coordinator superuser's ``DATABASES`` entry.
    """
    bindir = find_citus()
    if bindir is None:
        raise RuntimeError("Citus is not installed for any PostgreSQL of this machine.")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["chown", "postgres", str(folder)], check=True)
    ports = [port + n for n in range(workers + 1)]
    for node_port in ports:
        data = folder / f"node-{node_port}"
        if not data.is_dir():
            _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
            settings = (
                "shared_preload_libraries = 'citus'\n"
                f"port = {node_port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{folder}'\nmax_connections = 200\n"
                "fsync = off\nsynchronous_commit = off\n"
            )
            conf = data / "postgresql.conf"
            conf.write_text(conf.read_text() + settings)
        log = folder / f"log-{node_port}.txt"
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start"])
    admin = {"ENGINE": "django.db.backends.postgresql", "NAME": "postgres", "USER": "postgres"}
    admin |= {"PASSWORD": "", "HOST": "127.0.0.1", "PORT": str(port)}
    for node_port in ports:
        with connect({**admin, "PORT": str(node_port)}, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with connect(admin, autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [port])
        for node_port in ports[1:]:
            conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [node_port])
    return admin


def stop_cluster(folder: Path) -> None:
    """Stop every server of the cluster in ``folder``."""
    bindir = find_citus()
    for data in sorted(folder.glob("node-*")):
        if bindir is not None and (data / "postmaster.pid").exists():
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


def main(argv: list[str] | None = None) -> int:
    """``python -m django_prodpatterns.devserver.citus start|stop DIR [--port N]``: start
    prints the coordinator's URL (``CITUS_URL`` for the Citus tests)."""
    parser = argparse.ArgumentParser(prog="python -m django_prodpatterns.devserver.citus")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--port", type=int, default=9700)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args(argv)
    try:
        if options.action == "start":
            start_cluster(options.folder, options.port, options.workers)
            print(f"postgres://postgres@127.0.0.1:{options.port}/postgres")
        else:
            stop_cluster(options.folder)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"citus {options.action}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
