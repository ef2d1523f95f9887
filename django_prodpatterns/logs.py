"""The context in force on every log record: whose request a line belongs to.

Add :class:`ContextFilter` to the handlers whose records should say it; each record gets
``tenant``, ``actor`` and ``request_id`` attributes (``"-"`` for one not in force), for a
plain formatter (``%(tenant)s``) and for a structured one (:class:`JsonFormatter`, or any
formatter that writes a record's attributes)::

    LOGGING = {
        "version": 1,
        "filters": {"context": {"()": "django_prodpatterns.logs.ContextFilter"}},
        "formatters": {
            "plain": {"format": "%(levelname)s [%(tenant)s %(actor)s %(request_id)s] %(message)s"},
            "json": {"()": "django_prodpatterns.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["context"],
                        "formatter": "plain"},
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }

The values are read from the context variables of the code that logs (``tenant_context``,
``audit_context``; the middleware sets both for a request), so a record made in a thread
or task that did not inherit the context says ``"-"``: never another request's values.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from .context import get_audit_info, get_current_tenant_pk

__all__ = ["UNSET", "ContextFilter", "JsonFormatter"]

# What a record says for a value that is not in force.
UNSET = "-"
# The attributes the filter sets, in the order a structured line lists them.
CONTEXT_ATTRIBUTES = ("tenant", "actor", "request_id")


class ContextFilter(logging.Filter):
    """Adds ``tenant``, ``actor`` (the actor's primary key) and ``request_id`` to every
    record; keeps any a caller gave in ``extra=``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in zip(CONTEXT_ATTRIBUTES, _context_values(), strict=True):
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _context_values() -> tuple[str, str, str]:
    """The tenant's key, the actor's key and the request id in force, as text.

    Working out a lazy actor may query the database (the request's user): a failure there
    must not turn a log call into an error, so the actor is then left unset.
    """
    tenant = get_current_tenant_pk()
    info = get_audit_info()
    actor = request_id = UNSET
    if info is not None:
        request_id = info.request_id or UNSET
        try:
            actor = info.actor_id or UNSET
        except Exception:  # logging never raises for the context
            actor = UNSET
    return (UNSET if tenant is None else str(tenant), actor, request_id)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    context (:class:`ContextFilter`'s attributes, read afresh if the filter did not run)
    and the exception, if any. Values that are not JSON are written as their text."""

    def format(self, record: logging.LogRecord) -> str:
        if all(hasattr(record, name) for name in CONTEXT_ATTRIBUTES):  # the filter ran
            context = {name: getattr(record, name) for name in CONTEXT_ATTRIBUTES}
        else:
            values = dict(zip(CONTEXT_ATTRIBUTES, _context_values(), strict=True))
            context = {name: getattr(record, name, values[name]) for name in CONTEXT_ATTRIBUTES}
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
