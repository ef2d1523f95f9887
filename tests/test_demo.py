"""``manage.py demo`` on a fresh embedded database, twice: the README's first command."""

import signal
import time

from tests.demo_server import demo_folder, demo_server, postgres_processes, wait_for_login

CREDENTIALS = (
    "North Store staff: user 'alice' password 'alice'",
    "South Store staff: user 'bob' password 'bob'",
    "user 'admin' password 'admin'",
)


def serve_and_stop(folder, seeded, stop=signal.SIGTERM):
    with demo_server(folder, "--orders", "40") as (proc, base, data_dir, log):
        status, body = wait_for_login(proc, base)
        assert status == 200, log.read_text() if proc.poll() is not None else "no answer"
        assert 'name="username"' in body
        assert postgres_processes(data_dir), "the demo should run on its own embedded server"
        proc.send_signal(stop)
        proc.wait(timeout=30)
        output = log.read_text()
    assert f"Seeded {seeded} new orders" in output
    # fresh statistics after seeding (the first Orders page was slow without them)
    assert ("Statistics updated for 6 tables." in output) == bool(seeded)
    assert all(line in output for line in CREDENTIALS)
    deadline = time.monotonic() + 10
    while postgres_processes(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert postgres_processes(data_dir) == []


def test_demo_serves_the_admin_login_stops_cleanly_and_runs_again():
    with demo_folder() as folder:
        serve_and_stop(folder, seeded=40)
        # the seed is idempotent; a terminal that closes (SIGHUP) stops the server too
        serve_and_stop(folder, seeded=0, stop=signal.SIGHUP)
