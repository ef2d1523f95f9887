"""``ensure_role`` says it is safe to run concurrently with another process doing the same.

That is what happens when several processes start at once against one server: pytest-xdist
workers or parallel child runs importing tests/settings.py with ``DATABASE_URL`` set, or
replicas of a deployment running the role set-up. Each thread here has its own connection
(as a process would) and they start together; a throwaway role is used and dropped.
"""

import threading
import uuid

from django.conf import settings
from psycopg import sql as pgsql

from django_prodpatterns.devserver import embedded
from django_prodpatterns.ops.roles import Role, ensure_role

WORKERS = 4
ROUNDS = 20


def ensure_concurrently(role, rounds):
    """Run ensure_role(role) ``rounds`` times in each of WORKERS threads; return the errors."""
    errors = []
    barrier = threading.Barrier(WORKERS)

    def work():
        with embedded.connect(settings.DATABASES["setup"], autocommit=True) as conn:
            barrier.wait()
            for _ in range(rounds):
                try:
                    ensure_role(conn, role)
                except Exception as exc:  # every failure is reported
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_ensure_role_is_safe_to_run_concurrently():
    role = Role(name=f"prodpatterns_race_{uuid.uuid4().hex[:8]}", password="race")
    try:
        created = ensure_concurrently(role, 1)  # the role does not exist yet
        existing = ensure_concurrently(role, ROUNDS)  # it does
    finally:
        with embedded.connect(settings.DATABASES["setup"], autocommit=True) as conn:
            conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(role.name)))
    assert not created, f"{len(created)} of {WORKERS} concurrent creations failed: {created[0]}"
    assert not existing, (
        f"{len(existing)} of {WORKERS * ROUNDS} concurrent calls failed: {existing[0]}"
    )
