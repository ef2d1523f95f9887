"""How a request names its tenant. Set one with ``PRODPATTERNS["TENANT_RESOLVER"]``.

A resolver is ``callable(request) -> tenant | None``. A header or a subdomain only *asks*
for a tenant: the built-ins accept it only when the user is a member, so nobody reaches
another tenant by editing a request.

A resolver may also have an ``explain`` attribute, ``callable(request) -> str``, that says
why it found no tenant for a request. With ``DEBUG`` on, the 403 of a request that needed a
tenant shows it (:func:`why_no_tenant`); the built-ins have one. It runs only for that
403, so it may spend queries the resolver itself saves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import app_settings
from .markers import is_tenant_scoped
from .models.tenancy import get_tenant_model

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

TENANT_HEADER = "X-Tenant-ID"

# Users are the project's user model's rows, read duck-typed (Any), as are the objects
# reached from them by TENANT_USER_ATTRIBUTE; tenants are the tenant model's rows.


def _user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _follow(obj: Any, path: str) -> Any:
    """``obj.a.b`` for ``"a.b"``; None where a link is missing."""
    for name in path.split("."):
        try:
            obj = getattr(obj, name, None)
        except ObjectDoesNotExist:  # a missing reverse one-to-one (e.g. no profile)
            return None
        if obj is None:
            return None
    return obj


def user_tenants(user: Any) -> list[models.Model]:
    """Tenants ``user`` belongs to.

    ``PRODPATTERNS["TENANT_USER_ATTRIBUTE"]`` names one tenant (``"tenant"``, or a dotted
    path such as ``"profile.tenant"``); failing that, the same name plus ``s`` may name a
    many-to-many or reverse relation of several tenants.
    """
    attribute = app_settings.TENANT_USER_ATTRIBUTE
    single = _follow(user, attribute)
    if single is not None:
        return [single]
    many = _follow(user, f"{attribute}s")
    return list(many.all()) if many is not None else []


def _member(user: Any, tenant: models.Model) -> models.Model | None:
    return next((t for t in user_tenants(user) if t.pk == tenant.pk), None)


def from_user(request: HttpRequest) -> models.Model | None:
    """The authenticated user's own tenant (``user.tenant`` by default)."""
    user = _user(request)
    if user is None:
        return None
    tenants = user_tenants(user)
    return tenants[0] if len(tenants) == 1 else None


def _lookup(**filters: object) -> models.Model | None:
    try:
        return get_tenant_model()._base_manager.filter(**filters).first()
    except (ValueError, ValidationError):  # a malformed key names no tenant
        return None


def from_header(request: HttpRequest) -> models.Model | None:
    """The tenant whose primary key is in the ``X-Tenant-ID`` header, if the user is a member."""
    user, key = _user(request), request.headers.get(TENANT_HEADER)
    if user is None or not key or not key.isprintable():
        return None  # a NUL or control character names no tenant (and text keys refuse NUL)
    tenant = _lookup(pk=key)
    return _member(user, tenant) if tenant is not None else None


def from_subdomain(request: HttpRequest) -> models.Model | None:
    """The tenant whose ``slug`` is the first label of the host, if the user is a member."""
    user = _user(request)
    host = request.get_host().split(":")[0]
    if user is None or host.count(".") < 2:
        return None
    tenant = _lookup(slug=host.split(".")[0])
    return _member(user, tenant) if tenant is not None else None


# --- why a resolver found no tenant (shown by the 403 in DEBUG) -----------------------------


def describe_user(user: AbstractBaseUser | AnonymousUser | None) -> str:
    """``7 (alice)`` for a user, ``anonymous`` for an anonymous one."""
    if user is None:
        return "none"
    if not user.is_authenticated:
        return "anonymous"
    return f"{user.pk} ({user.get_username()})"


def _no_user(request: HttpRequest) -> str | None:
    """Why there is no user to read a tenant from, or None when there is one."""
    user = getattr(request, "user", None)
    if user is None:
        return "the request has no user: AuthenticationMiddleware must come before TenantMiddleware"
    if not user.is_authenticated:
        return "anonymous user (not logged in)"
    return None


def _related_model(obj: object, name: str) -> type[models.Model] | None:
    """The model behind relation ``name`` of ``obj``'s class, or None."""
    descriptor = getattr(obj.__class__, name, None)  # __class__: request.user is lazy
    related = getattr(descriptor, "related", None)  # a reverse one-to-one
    if related is not None:
        return related.related_model
    field = getattr(descriptor, "field", None)  # a forward foreign key or one-to-one
    model: type[models.Model] | None = getattr(field, "related_model", None)
    return model


def _walk(user: Any, path: str) -> tuple[Any, str | None]:
    """Follow ``path`` from ``user`` as :func:`_follow` does; (value, None) when it arrives,
    (None, where and why it stopped) when it does not."""
    obj, names = user, path.split(".")
    for i, name in enumerate(names):
        here = ".".join(["user", *names[:i]])
        try:
            value = getattr(obj, name)
        except ObjectDoesNotExist:
            model = _related_model(obj, name)
            label = model._meta.label if model is not None else "related"
            owner = f"user {user.pk}" if i == 0 else f"{here} {obj.pk}"
            why = f"{here}.{name} does not exist (no {label} row for {owner})"
            if model is not None and is_tenant_scoped(model):
                why += (
                    f"; {label} is a tenant model, so row level security hides its rows "
                    "while the request has no tenant: link users to tenants through a model "
                    "without a tenant"
                )
            return None, why
        except AttributeError:
            owner = f"user {user.pk}" if i == 0 else here
            return None, f"{owner} has no attribute {name!r}"
        if value is None:
            return None, f"{here}.{name} is None"
        obj = value
    return obj, None


def _why_not_a_member(user: Any) -> str:
    """Why :func:`user_tenants` finds no single tenant for ``user``."""
    attribute = app_settings.TENANT_USER_ATTRIBUTE
    tenants = user_tenants(user)
    if len(tenants) > 1:
        keys = ", ".join(str(t.pk) for t in tenants)
        return (
            f"user {user.pk} belongs to {len(tenants)} tenants ({keys}, through "
            f"user.{attribute}s): from_user needs exactly one; let the request choose "
            "with from_header or from_subdomain"
        )
    _, why = _walk(user, attribute)
    many, _ = _walk(user, f"{attribute}s")
    if many is not None:
        why = f"{why}, and user.{attribute}s is empty"
    return why or f"user.{attribute} is not a tenant"


def _why_not_member_of(user: Any, tenant: models.Model) -> str:
    tenants = user_tenants(user)
    theirs = ", ".join(str(t.pk) for t in tenants) or f"none: {_why_not_a_member(user)}"
    return f"user {user.pk} is not a member of tenant {tenant.pk} (their tenants: {theirs})"


def _explain_from_user(request: HttpRequest) -> str:
    return _no_user(request) or _why_not_a_member(request.user)


def _explain_from_header(request: HttpRequest) -> str:
    no_user = _no_user(request)
    if no_user:
        return no_user
    key = request.headers.get(TENANT_HEADER)
    if not key:
        return f"no {TENANT_HEADER} header"
    if not key.isprintable():
        return f"{TENANT_HEADER} has control characters"
    tenant = _lookup(pk=key)
    if tenant is None:
        return f"{TENANT_HEADER} {key!r} names no tenant"
    return _why_not_member_of(request.user, tenant)


def _explain_from_subdomain(request: HttpRequest) -> str:
    no_user = _no_user(request)
    if no_user:
        return no_user
    host = request.get_host().split(":")[0]
    if host.count(".") < 2:
        return (
            f"host {host!r} has no subdomain (from_subdomain reads the first label of a "
            "host such as acme.example.com)"
        )
    slug = host.split(".")[0]
    tenant = _lookup(slug=slug)
    if tenant is None:
        return f"no tenant has the slug {slug!r}"
    return _why_not_member_of(request.user, tenant)


from_user.explain = _explain_from_user  # type: ignore[attr-defined]
from_header.explain = _explain_from_header  # type: ignore[attr-defined]
from_subdomain.explain = _explain_from_subdomain  # type: ignore[attr-defined]


def why_no_tenant(request: HttpRequest) -> str:
    """Why the configured resolver found no tenant for ``request``: its ``explain``, or a
    sentence that says it has none."""
    resolver = import_string(app_settings.TENANT_RESOLVER)
    explain = getattr(resolver, "explain", None)
    if explain is None:
        return (
            "it returned None (a resolver can say why here: give it an explain(request) attribute)"
        )
    return str(explain(request))


def explain_no_tenant(request: HttpRequest) -> dict[str, str]:
    """Which resolver ran, for which user, and why it found no tenant (for DEBUG only: it
    names users, relations and settings)."""
    tenant = getattr(request, "tenant", None)
    if tenant is not None:
        reason = (
            f"the request's tenant is {tenant.pk}, but the query ran where no tenant was "
            "current (inside tenant_context(None), or in another thread)"
        )
    else:
        try:
            reason = why_no_tenant(request)
        except Exception as exc:  # the explanation must never hide the 403 itself
            reason = f"the resolver's explanation failed: {exc!r}"
    return {
        "resolver": app_settings.TENANT_RESOLVER,
        "user": describe_user(getattr(request, "user", None)),
        "reason": reason,
    }
