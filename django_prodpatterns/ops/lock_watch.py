"""Lock-guarded migrations: timeouts, retries, and who was in the way.

A migration that needs a lock held by a long transaction waits, and while it waits every
query behind it waits too: the table is down. With ``lock_timeout`` set, PostgreSQL gives
up instead; the migration (atomic on PostgreSQL) rolls back and is tried again later. A
second connection watches while a migration runs and remembers the sessions that block
it (``pg_blocking_pids``), so the report names the query in the way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class Blocker:
    pid: int
    user: str
    application: str
    state: str
    seconds_in_transaction: float | None
    query: str

    def describe(self) -> str:
        held = (
            f", in a transaction for {self.seconds_in_transaction:.0f} s"
            if self.seconds_in_transaction is not None
            else ""
        )
        app = f" ({self.application})" if self.application else ""
        return f"pid {self.pid}, user {self.user}{app}, {self.state}{held}: {self.query.strip()}"


BLOCKERS_SQL = """
    SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''),
           coalesce(a.state, ''), extract(epoch FROM now() - a.xact_start)::float8,
           coalesce(a.query, '')
    FROM pg_stat_activity a
    WHERE a.pid = ANY (pg_blocking_pids(%s))
    ORDER BY a.xact_start NULLS LAST
"""


class LockWatcher:
    """Polls, from its own connection, which sessions block the backend ``pid``."""

    def __init__(self, connection_params: dict[str, Any], pid: int, interval: float = 0.05):
        self.params, self.pid, self.interval = connection_params, pid, interval
        self.blockers: list[Blocker] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            with psycopg.connect(**self.params, autocommit=True) as connection:
                while not self._stop.is_set():
                    rows = connection.execute(BLOCKERS_SQL, [self.pid]).fetchall()
                    if rows:
                        self.blockers = [Blocker(*row) for row in rows]
                    self._stop.wait(self.interval)
        except psycopg.Error:
            return  # watching is a courtesy: the migration goes on without it


def is_lock_timeout(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what it wraps) is PostgreSQL's lock_timeout (55P03)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) == "55P03":
            return True
        exc = exc.__cause__
    return False
