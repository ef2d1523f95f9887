"""The context channel's Python end: who is acting, for which tenant, and why.

State lives in :mod:`contextvars`, never in thread-locals, so it follows the code that set
it into threads started with ``contextvars.copy_context()``, into ``asgiref``'s
``sync_to_async``/``async_to_sync`` and into asyncio tasks, and never leaks between
concurrent requests. Every ``set`` is undone with its token, so contexts nest and each exit
restores exactly what was there before.

:mod:`django_prodpatterns.db.session` reads this state for every SQL statement, through
:func:`channel_values`, and hands it to PostgreSQL as transaction-local settings; this module
knows nothing about databases.

The tenant, three ways: :func:`get_current_tenant` (what :class:`tenant_context` was given,
or ``None``), :func:`get_current_tenant_pk` (its key, or ``None``) and
:func:`require_tenant_pk` (its key, or :class:`~django_prodpatterns.exceptions.TenantRequired`:
the one that raises).

Usage::

    with tenant_context(shop):
        with audit_context(actor=request.user, reason="support ticket 4711"):
            ...

    async with tenant_context(shop):
        ...
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Generic, TypeAlias, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import models

from .exceptions import TenantRequired

__all__ = [
    "AuditInfo",
    "LazyActor",
    "audit_context",
    "channel_values",
    "get_audit_info",
    "get_current_actor",
    "get_current_tenant",
    "get_current_tenant_pk",
    "require_tenant_pk",
    "tenant_context",
    "without_audit_context",
]

T = TypeVar("T")

# A tenant given as its primary key: the types a tenant model's key has (auto and integer
# fields, text fields, UUIDs).
TenantKey: TypeAlias = int | str | uuid.UUID

# Keyword arguments of audit_context() that are first-class fields, not free-form extras.
_AUDIT_FIELDS = ("request_id", "ip_address", "user_agent", "path")

# The audit log's varchar columns (request_id, actor_repr: varchar(255); ip_address:
# varchar(45)); a longer value would make the trigger, and so every audited write, fail.
# user_agent, path and reason are text columns.
_TEXT_LIMITS = {"request_id": 255, "actor_repr": 255}
IP_ADDRESS_LIMIT = 45

# A NUL as json.dumps writes it (``\u0000``), not preceded by an escaping backslash.
# PostgreSQL's jsonb refuses it, and text columns cannot hold a NUL at all.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def clean_text(value: object, limit: int | None = None) -> str | None:
    """``value`` as text the audit log can store: NULs removed, cut to ``limit``
    characters; ``None`` when nothing is left."""
    if value is None:
        return None
    text = str(value).replace("\x00", "")[:limit]
    return text or None


def clean_ip_address(value: object) -> str | None:
    """``value`` as an IP address in its canonical form, or ``None`` when it is none
    (junk, a host name, an address with a port, anything longer than the column)."""
    if value is None:
        return None
    try:
        text = str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None
    return text if len(text) <= IP_ADDRESS_LIMIT else None


def _clean_field(key: str, value: object) -> str | None:
    if key == "ip_address":
        return clean_ip_address(value)
    return clean_text(value, _TEXT_LIMITS.get(key))


@dataclass(frozen=True)
class AuditInfo:
    """Who is acting and why; immutable, so a nested context is a modified copy.

    Values are cleaned on the way in, so that no caller (a request's headers, a task's
    message) can make the audit trigger, and with it every audited write, fail: NULs are
    removed, ``request_id`` and the actor's ``str()`` are cut to 255 characters, and an
    ``ip_address`` that is not an IP address is dropped.
    """

    actor: object = None
    reason: str | None = None
    request_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    path: str | None = None
    extra: MappingProxyType[str, object] = field(default_factory=lambda: MappingProxyType({}))
    # The id of the audit_backfill() block in force (django_prodpatterns.backfill), else
    # None. A field of its own, not an extra: audit_context(**values) cannot set it, so
    # request data never carries the marker into the signed details.
    backfill: str | None = None
    _json: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def merged(self, actor: object, reason: str | None, values: Mapping[str, object]) -> AuditInfo:
        """Return a copy with the given values laid over this one (None keeps the outer)."""
        changes: dict[str, Any] = {}  # keyword arguments of dataclasses.replace()
        if actor is not None:
            changes["actor"] = actor
        if reason is not None:
            changes["reason"] = reason
        extra = dict(self.extra)
        for key, value in values.items():
            if key in _AUDIT_FIELDS:
                cleaned = _clean_field(key, value)
                if cleaned is not None:
                    changes[key] = cleaned
            else:
                extra[key] = value
        changes["extra"] = MappingProxyType(extra)
        return replace(self, _json={}, **changes)

    @property
    def actor_id(self) -> str:
        """The actor's primary key as text, or ``""`` when there is no actor."""
        return _key_of(resolve_actor(self.actor))

    @property
    def as_json(self) -> str:
        """The snapshot PostgreSQL receives as ``prodpatterns.context`` (None values left out).

        Built once per actor: a lazy actor (the request's user) may change while the
        context is active, e.g. when a view authenticates a token.
        """
        actor = resolve_actor(self.actor)
        key = _key_of(actor)
        cached = self._json.get(key)
        if cached is None:
            cached = self._json[key] = self._build_json(actor)
        return cached

    def _build_json(self, actor: object) -> str:
        data: dict[str, object] = {
            "actor_id": _key_of(actor) or None,
            "actor_repr": None if actor is None else clean_text(actor, _TEXT_LIMITS["actor_repr"]),
            "reason": self.reason,
            "request_id": self.request_id,
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "path": self.path,
            "extra": dict(self.extra) or None,
            "backfill": self.backfill,
        }
        text = json.dumps(
            {key: value for key, value in data.items() if value is not None},
            default=str,
            sort_keys=True,
            separators=(",", ":"),
        )
        return _JSON_NUL.sub(r"\1", text)  # NULs left in the reason or the extras


_current_tenant: contextvars.ContextVar[models.Model | TenantKey | None] = contextvars.ContextVar(
    "prodpatterns_tenant", default=None
)
_current_audit: contextvars.ContextVar[AuditInfo | None] = contextvars.ContextVar(
    "prodpatterns_audit", default=None
)
_resolving_actor: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "prodpatterns_resolving_actor", default=False
)


class LazyActor:
    """An actor worked out when a write happens, not when the context is entered.

    ``audit_context(actor=LazyActor(lambda: request.user))`` captures users that a view
    authenticates itself (tokens, JWT), after the middleware ran.
    """

    def __init__(self, resolve: Callable[[], object]) -> None:
        self._resolve = resolve

    def resolve(self) -> object:
        # Working out the actor may itself query (the session, the user); those queries
        # see no actor instead of recursing into this method.
        if _resolving_actor.get():
            return None
        token = _resolving_actor.set(True)
        try:
            return _authenticated(self._resolve())  # evaluated here, under the guard
        finally:
            _resolving_actor.reset(token)


def _authenticated(actor: T) -> T | None:
    if actor is not None and getattr(actor, "is_authenticated", True) is False:
        return None
    return actor


def resolve_actor(actor: object) -> Any:  # whatever was given: a user, mostly
    """The actual actor behind a possibly lazy one (None for anonymous users)."""
    if isinstance(actor, LazyActor):
        return actor.resolve()
    return _authenticated(actor)


def _key_of(obj: object) -> str:
    """The text PostgreSQL sees for a tenant or actor: its ``pk``, or the value itself."""
    value = getattr(obj, "pk", obj)
    return "" if value is None else str(value)  # an unsaved object names nobody


class _VarContext(Generic[T]):
    """Sets one context variable on enter and resets it with the token on exit.

    Usable with ``with`` and ``async with``. The same object may be entered again while
    active (its tokens stack), which keeps decorators and re-entrant helpers honest.
    """

    var: contextvars.ContextVar[T | None]

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[T | None]] = []

    def new_value(self) -> T:
        raise NotImplementedError

    def __enter__(self) -> T:
        value = self.new_value()
        self._tokens.append(self.var.set(value))
        return value

    def __exit__(self, *exc_info: object) -> None:
        self.var.reset(self._tokens.pop())

    async def __aenter__(self) -> T:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)


# A tenant given as its primary key: the types a tenant model's key has (auto and integer
# fields, text fields, UUIDs). bool is an int, but names no tenant.
_TENANT_KEY_TYPES = (int, str, uuid.UUID)

# The swappable tenant model's setting and default, as conf.AppSettings.tenant_model reads
# them (this module imports nothing from the app).
_TENANT_MODEL_SETTING = "PRODPATTERNS_TENANT_MODEL"
_DEFAULT_TENANT_MODEL = "prodpatterns.Tenant"


def _tenant_model() -> type[models.Model]:
    label = getattr(settings, _TENANT_MODEL_SETTING, _DEFAULT_TENANT_MODEL)
    return apps.get_model(label, require_ready=False)


def _checked_tenant(tenant: object) -> models.Model | TenantKey | None:
    """``tenant`` when it names a tenant; TypeError for an object that merely has a ``pk``.

    Taking any ``pk`` made ``tenant_context(request.user)`` the tenant whose key happens to
    be the user's: a silent switch into another tenant's rows.
    """
    if tenant is None or (isinstance(tenant, _TENANT_KEY_TYPES) and not isinstance(tenant, bool)):
        return tenant
    model = _tenant_model()
    if isinstance(tenant, model):
        return tenant
    given = tenant._meta.label if isinstance(tenant, models.Model) else type(tenant).__qualname__
    raise TypeError(
        f"tenant_context() takes an instance of the tenant model ({model._meta.label}), its "
        f"primary key or None, not {given}."
    )


class tenant_context(_VarContext[models.Model | TenantKey | None]):
    """Make ``tenant`` the current tenant inside the block.

    Args:
        tenant: An instance of the tenant model (``PRODPATTERNS_TENANT_MODEL``), or its
            primary key (an ``int``, ``str`` or ``UUID``). ``None`` clears the tenant inside
            the block, which makes tenant-scoped queries fail closed.

    Raises:
        TypeError: ``tenant`` is anything else, such as another model's row
            (``request.user``) or any other object with a ``pk``.
    """

    var = _current_tenant

    def __init__(self, tenant: models.Model | TenantKey | None) -> None:
        super().__init__()
        self.tenant = _checked_tenant(tenant)

    def new_value(self) -> models.Model | TenantKey | None:
        return self.tenant


class audit_context(_VarContext[AuditInfo]):
    """Record who acts and why inside the block; nested blocks add to the outer one.

    Args:
        actor: The acting user (or any object with a ``pk``); ``None`` keeps the outer actor.
        reason: Free text stored with each audit entry; ``None`` keeps the outer reason.
        **extra: ``request_id``, ``ip_address``, ``user_agent`` and ``path`` are stored in
            their own audit columns; anything else goes into the entry's ``extra`` JSON.
    """

    var = _current_audit

    def __init__(self, actor: object = None, reason: str | None = None, **extra: object) -> None:
        super().__init__()
        self.actor = actor
        self.reason = reason
        self.extra = extra

    def new_value(self) -> AuditInfo:
        outer = _current_audit.get() or AuditInfo()
        return outer.merged(self.actor, self.reason, self.extra)


class without_audit_context(_VarContext[AuditInfo | None]):
    """No audit context inside the block, whatever the code around it had set; the outer
    one is back on exit. A request's own :class:`audit_context` starts from nothing this
    way, never from what a test or a calling task had left active."""

    var = _current_audit

    def new_value(self) -> None:
        return None


def get_current_tenant() -> models.Model | TenantKey | None:
    """The tenant set by the innermost active :class:`tenant_context`, or ``None``."""
    return _current_tenant.get()


def get_current_tenant_pk() -> TenantKey | None:
    """The current tenant's primary key (a tenant given as its key stays as it is), or
    ``None``."""
    tenant = _current_tenant.get()
    return tenant.pk if isinstance(tenant, models.Model) else tenant


def require_tenant_pk(model: type[models.Model]) -> TenantKey:
    """The current tenant's primary key; :class:`TenantRequired` naming ``model`` (the
    tenant-scoped model that needed it) when no tenant is set."""
    pk = get_current_tenant_pk()
    if pk is None:
        raise TenantRequired(
            f"{model._meta.label} is tenant-scoped and there is no current tenant: run the "
            "code inside tenant_context(tenant) (TenantMiddleware does it for requests)."
        )
    return pk


def channel_values() -> tuple[str, str, str] | None:
    """The active context as PostgreSQL receives it: the tenant's key, the actor's key and
    the audit details as JSON (``""`` for each one not set); ``None`` outside every context.

    A key is the text of a ``pk``, or of the value itself when a key was given; an unsaved
    object names nobody (``""``).
    """
    tenant = _current_tenant.get()
    audit = _current_audit.get()
    if tenant is None and audit is None:
        return None
    if audit is None:
        return (_key_of(tenant), "", "")
    return (_key_of(tenant), audit.actor_id, audit.as_json)


def get_current_actor() -> Any:  # whatever audit_context() was given: a user, mostly
    """The actor set by the innermost active :class:`audit_context`, or ``None``."""
    info = _current_audit.get()
    return None if info is None else resolve_actor(info.actor)


def get_audit_info() -> AuditInfo | None:
    """Everything the active :class:`audit_context` blocks say, or ``None`` outside them."""
    return _current_audit.get()
