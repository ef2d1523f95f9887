"""Celery tasks run in the context they were enqueued in (docs/tasks.md).

A task is work a request asked for: it must touch the same tenant's rows, and what it
writes must be audited as the request's actor and request id, not as nobody. This module
carries that context through the message:

- ``before_task_publish`` writes the context in force into the message's headers (one
  header, :data:`HEADER`, holding JSON-able values). It sees every message: ``delay``,
  ``apply_async``, each task of a chain, group or chord, and ``self.retry()``, which runs
  inside the task, where the carried context is in force again.
- ``task_prerun`` enters that context (``tenant_context`` + ``audit_context`` with the
  original actor, and the task's name and id as the audit extras ``task`` and ``task_id``);
  ``task_postrun`` leaves it, resetting every variable with its token. Both run in the
  thread (or greenlet) that runs the task, so whatever the pool, a worker never carries one
  task's context into the next.
- :class:`ContextTask` refuses a task enqueued without a tenant, before its body runs,
  unless the task says ``tenant_free=True``.

Usage, in the project's ``celery.py``::

    from celery import Celery
    from django_prodpatterns.tasks.celery import install

    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    install(app)  # before any task is defined
    app.autodiscover_tasks()

Celery is imported here and nowhere else in the app.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Celery ships no type hints; the ignores also cover a type check run without Celery.
from celery import Celery, Task, signals  # type: ignore[import-untyped,import-not-found,unused-ignore]
from celery.utils.imports import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
    symbol_by_name,
)
from django.core.exceptions import ImproperlyConfigured, ValidationError

from ..context import (
    audit_context,
    get_audit_info,
    get_current_tenant_pk,
    resolve_actor,
    tenant_context,
    without_audit_context,
)
from ..exceptions import TenantRequired

__all__ = ["HEADER", "CarriedActor", "ContextTask", "context_header", "install"]

# The message header that carries the context; a task's request shows it under this name.
HEADER = "prodpatterns_context"

# The attribute of a task's request (celery.app.task.Context) that holds the context
# managers task_prerun entered, for task_postrun to leave. One request per run of a task,
# so a retry of the same task id running while the first run finishes cannot mix them up.
_ENTERED = "prodpatterns_entered"

# Celery's own tasks (celery.chord_unlock, celery.backend_cleanup, ...) are plumbing: they
# read and write no tenant's rows, and beat starts some of them with no context at all.
_BUILTIN_PREFIX = "celery."

# The audit values that audit_context() stores in columns of their own.
_AUDIT_FIELDS = ("request_id", "ip_address", "user_agent", "path")


@dataclass(frozen=True)
class CarriedActor:
    """The enqueuing actor, as a task sees it: its key and the text the audit log showed.

    Not the user row: loading it would cost a query per task, fail for a user deleted
    since, and could show a changed name; the audit log must name the actor exactly as the
    request did. ``get_user_model()._base_manager.get(pk=actor.pk)`` loads it when a task
    needs the row.
    """

    pk: Any  # the user's primary key, as JSON carried it
    text: str

    is_authenticated = True

    def __str__(self) -> str:
        return self.text


def _jsonable(value: object) -> Any:  # JSON's values: what the message can carry
    """``value`` as JSON types (anything else as its ``str()``), the way the audit log's
    ``extra`` column stores it anyway."""
    return json.loads(json.dumps(value, default=str))


def context_header() -> dict[str, Any] | None:
    """The context in force as the JSON-able value of :data:`HEADER`; ``None`` outside
    every context.

    A lazy actor is resolved now, while the request that set it is still there.
    """
    tenant_pk = get_current_tenant_pk()
    info = get_audit_info()
    if tenant_pk is None and info is None:
        return None
    header: dict[str, Any] = {"tenant": _jsonable(tenant_pk)}
    if info is not None:
        actor = resolve_actor(info.actor)
        header["actor"] = None if actor is None else _jsonable(getattr(actor, "pk", None))
        header["actor_repr"] = None if actor is None else str(actor)
        header["reason"] = info.reason
        for name in _AUDIT_FIELDS:
            header[name] = getattr(info, name)
        header["extra"] = _jsonable(dict(info.extra))
    return header


@signals.before_task_publish.connect(dispatch_uid="prodpatterns.tasks.publish")
def _on_publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Write the context in force into the message; remove a header copied from another
    message (a retry's signature copies its request's headers) when there is none."""
    if headers is None:  # pragma: no cover - message protocol 1, not Celery 5's default
        return
    header = context_header()
    if header is None:
        headers.pop(HEADER, None)
    else:
        headers[HEADER] = header


def _carried(task: Task) -> dict[str, Any] | None:
    request = task.request
    header = request.get(HEADER)
    if header is None:  # where a Celery version nests custom headers
        header = (request.get("headers") or {}).get(HEADER)
    return header if isinstance(header, dict) else None


def _tenant_key(value: object) -> object:
    """The carried tenant key in its model's Python type (JSON turned a UUID into text)."""
    if value is None:
        return None
    from ..models.tenancy import get_tenant_model  # the app registry is ready in a worker

    try:
        return get_tenant_model()._meta.pk.to_python(value)
    except ValidationError:
        return value  # tenant_context() takes it as given; no row will match


def _managers(task: Task, header: dict[str, Any] | None) -> list[Any]:
    """The context managers that put the carried context in force, outermost first."""
    task_values = {"task": task.name, "task_id": task.request.id}
    if task.request.get("is_eager"):
        # apply() and task_always_eager run in the caller's thread: its context is the
        # enqueuing context, only the task is added.
        return [audit_context(**task_values)]
    managers: list[Any] = [tenant_context(None), without_audit_context()]
    if header is None:
        return [*managers, audit_context(**task_values)]
    managers[0] = tenant_context(_tenant_key(header.get("tenant")))  # type: ignore[arg-type]
    if "actor_repr" not in header:  # a tenant and no audit context
        return [*managers, audit_context(**task_values)]
    actor = None
    if header.get("actor_repr") is not None:
        actor = CarriedActor(pk=header.get("actor"), text=str(header["actor_repr"]))
    carried_extra = header.get("extra")
    extra: dict[str, Any] = carried_extra if isinstance(carried_extra, dict) else {}
    values = {key: value for key, value in extra.items() if key not in ("actor", "reason")}
    values.update({name: header.get(name) for name in _AUDIT_FIELDS})
    values.update(task_values)
    return [*managers, audit_context(actor=actor, reason=header.get("reason"), **values)]


@signals.task_prerun.connect(dispatch_uid="prodpatterns.tasks.prerun")
def _on_prerun(task: Task | None = None, **kwargs: Any) -> None:
    """Enter the carried context (no tenant and no actor when none was carried, so the
    task never runs in whatever its thread had), remembering each manager on the task's
    request as soon as it is entered: task_postrun leaves exactly those."""
    if task is None:  # pragma: no cover - Celery always sends it
        return
    entered: list[Any] = []
    setattr(task.request, _ENTERED, entered)
    for manager in _managers(task, _carried(task)):
        manager.__enter__()
        entered.append(manager)


@signals.task_postrun.connect(dispatch_uid="prodpatterns.tasks.postrun")
def _on_postrun(task: Task | None = None, **kwargs: Any) -> None:
    """Leave what task_prerun entered, innermost first, each reset with its token."""
    if task is None:  # pragma: no cover - Celery always sends it
        return
    entered = getattr(task.request, _ENTERED, None) or []
    setattr(task.request, _ENTERED, [])
    while entered:
        entered.pop().__exit__(None, None, None)


class ContextTask(Task):
    """The base class :func:`install` gives an app's tasks: tenant-scoped by default.

    A task enqueued with no tenant fails with :class:`TenantRequired` before its body
    runs, unless it is declared tenant-free: ``@app.task(tenant_free=True)`` (or
    ``tenant_free = True`` on a subclass). Celery's own tasks (``celery.*``) are
    tenant-free. A tenant-free task still carries and enters the actor and audit values.
    """

    abstract = True
    tenant_free: bool = False

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Refuse to run without a tenant (task_prerun has entered the carried context)."""
        super().before_start(task_id, args, kwargs)
        if self.tenant_free or self.name.startswith(_BUILTIN_PREFIX):
            return
        if get_current_tenant_pk() is None:
            raise TenantRequired(
                f"Task {self.name} is tenant-scoped and was enqueued with no current tenant: "
                "enqueue it inside tenant_context(tenant), or declare it "
                "@app.task(tenant_free=True) if it touches no tenant's rows."
            )


def install(app: Celery) -> None:
    """Make ``app``'s tasks tenant-scoped :class:`ContextTask` tasks; call it once in the
    project's ``celery.py``, right after creating the app and before any task is defined.

    The signal handlers (publish, prerun, postrun) are connected when this module is
    imported, once per process (``dispatch_uid``), for every app.

    Raises:
        ImproperlyConfigured: ``app``'s base task class is neither one of Celery's own
            (``Task``, or ``DjangoTask`` which Celery picks in a Django project; both are
            kept, with :class:`ContextTask` in front) nor a :class:`ContextTask` (make yours
            a subclass of it), or the app has already made its base class (call
            ``install(app)`` earlier).
    """
    if "Task" in vars(app):  # Celery.Task is a cached property: the base class is made
        if not issubclass(app.Task, ContextTask):
            raise ImproperlyConfigured(
                "install(app) came after the app made its base task class: call it right "
                "after Celery(...), or pass Celery(..., task_cls=ContextTask)."
            )
        return
    base = symbol_by_name(app.task_cls)
    if issubclass(base, ContextTask):
        return
    if base.__module__.split(".")[0] != "celery":
        raise ImproperlyConfigured(
            f"The app's task_cls {base.__module__}.{base.__qualname__} is not a subclass of "
            "django_prodpatterns.tasks.celery.ContextTask: derive it from ContextTask."
        )
    # Celery's own base: Task, or DjangoTask (delay_on_commit) when Celery found Django.
    app.task_cls = ContextTask if base is Task else type(base.__name__, (ContextTask, base), {})
