"""What the Citus tests share: rows of two tenants, and the task count of a query's plan."""

import re

from django.db import connections

APP = "app"


def task_count(queryset, using=APP):
    """How many shard tasks Citus plans for ``queryset`` (1: routed to one shard)."""
    sql, params = queryset.query.sql_with_params()
    return plan_tasks(sql, params, using)


def plan_tasks(sql, params=(), using=APP):
    """The task count of ``EXPLAIN`` of ``sql`` (the sum when the plan has several)."""
    with connections[using].cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    counts = [int(n) for n in re.findall(r"Task Count: (\d+)", plan)]
    assert counts, f"not a distributed plan:\n{plan}"
    return sum(counts)
