"""Helpers for tests/test_zoo_migrations.py: the migration lifecycle over the zoo.

- ``catalog``: a snapshot of the PostgreSQL catalog objects that belong to some tables
  (policies, triggers, constraints, indexes, columns, RLS flags) and of the public functions.
- ``settings``: the settings of the child processes (a database of their own on the
  parent run's server, the apps named by the parent).
- ``child``: what a child process does: evolve a small tenant app one step
  (makemigrations, migrate, check), or squash the zoo's migrations and apply the squash.
- ``stages/``: the versions of that small app's ``models.py``, one per step.
"""
