"""Checks on tenant models and their set-up: E020-E023, W020-W025."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connections, models

from ..conf import app_settings, validate
from ..db.constraints import RowLevelSecurity
from ..db.generated import has_database_constraint
from ..markers import TENANT_FIELD, is_soft_deletable, is_tenant_scoped
from ..models.tenancy import get_tenant_model
from ..relations import reverse_relations
from .inventory import models_of, tenant_models

if TYPE_CHECKING:
    from django.contrib.contenttypes.fields import GenericForeignKey


@register()
def check_tenant_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[CheckMessage]:
    """E021, W020 and W023: generated DDL present; uniqueness and references never cross
    tenants."""
    messages: list[CheckMessage] = []
    for model in tenant_models(app_configs):
        opts = model._meta
        messages += _unchecked_references(model)
        if opts.parents or not opts.managed:
            continue  # no generated DDL: E003 / W003 say why
        if not any(isinstance(c, RowLevelSecurity) for c in opts.constraints):
            messages.append(
                Error(
                    f"{opts.label} is a tenant model without its row-level-security "
                    "constraint, so no migration creates its policy.",
                    hint="Do not replace Meta.constraints after class creation; run "
                    "makemigrations once the model is a plain TenantModel subclass.",
                    obj=model,
                    id="prodpatterns.E021",
                )
            )
        # A to_field target must be unique on its own (Django's fields.E311), so W020's fix
        # does not apply to it; its (tenant, field) key is generated for the reference.
        targets = _to_field_targets(model)
        unique_sets = [
            (f"{f.name} (unique=True)", {f.name})
            for f in opts.local_concrete_fields
            if f.unique and not f.primary_key and f.name not in targets
        ]
        unique_sets += [(", ".join(t), set(t)) for t in opts.unique_together]
        unique_sets += [
            (c.name, set(c.fields))
            for c in opts.constraints
            if isinstance(c, models.UniqueConstraint)
        ]
        messages += _natural_primary_key(model)
        # In Citus mode it is an error: Citus refuses a unique constraint of a distributed
        # table without its distribution column.
        citus = app_settings.while_models_load("CITUS")
        level, check_id = (Error, "prodpatterns.E040") if citus else (Warning, "prodpatterns.W020")
        for name, fields in unique_sets:
            if TENANT_FIELD not in fields:
                messages.append(
                    level(
                        f"{opts.label} has a unique constraint ({name}) without the tenant: "
                        "one tenant's value blocks, and so reveals, another tenant's."
                        + (" Citus cannot distribute the table." if citus else ""),
                        hint=_tenant_unique_hint(model, fields),
                        obj=model,
                        id=check_id,
                    )
                )
    return messages


def _natural_primary_key(model: type[models.Model]) -> list[Warning]:
    """W025: a primary key the caller chooses is unique across all tenants.

    Inserting a row with a key another tenant uses fails, an unused one succeeds: an
    existence oracle. Generated keys (auto fields, or a default such as ``uuid4``) give a
    caller nothing to probe with.
    """
    pk = model._meta.pk
    if pk is None or isinstance(pk, models.AutoField) or pk.is_relation:
        return []
    if (
        pk.has_default()
        or getattr(pk, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED
    ):
        return []
    return [
        Warning(
            f"{model._meta.label}.{pk.name} is a primary key the caller chooses, unique "
            "across all tenants: a value another tenant uses is refused, so it can be "
            "probed for.",
            hint="Use a generated key (an auto field, or a UUIDField with default=uuid.uuid4) "
            f'and keep the natural key in a field unique per tenant (with "{TENANT_FIELD}").',
            obj=pk,
            id="prodpatterns.W025",
        )
    ]


@register()
def check_references_into_tenants(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[Warning]:
    """W024: a model that is not tenant-scoped references a tenant model.

    A foreign key's check ignores row level security: such a row accepts another tenant's
    key and refuses an unused one, which tells whoever writes it that the key exists (and
    its rows are visible to every tenant).
    """
    messages = []
    for model in models_of(app_configs):
        if is_tenant_scoped(model) or model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.local_fields:
            if not (field.is_relation and (field.many_to_one or field.one_to_one)):
                continue
            target = field.related_model
            if not (
                isinstance(target, type)
                and issubclass(target, models.Model)
                and is_tenant_scoped(target)
            ):
                continue
            if not has_database_constraint(field):
                continue  # db_constraint=False (W023 for a tenant model), or a ForeignObject
            messages.append(
                Warning(
                    f"{model._meta.label}.{field.name} points at the tenant model "
                    f"{target._meta.label} from a model without a tenant: its foreign key "
                    "accepts another tenant's key and refuses an unused one, so it reveals "
                    "which keys exist.",
                    hint=f"Make {model._meta.object_name} a tenant model (TenantModel), so "
                    "its references are (tenant, key) foreign keys and its rows isolated.",
                    obj=field,
                    id="prodpatterns.W024",
                )
            )
    return messages


def _to_field_targets(model: type[models.Model]) -> set[str]:
    """Names of ``model``'s fields that a foreign key references by ``to_field``."""
    return {
        rel.field.target_field.name
        for rel in reverse_relations(model)
        if rel.field.many_to_one or rel.field.one_to_one
        if not rel.field.target_field.primary_key
    }


def _tenant_unique_hint(model: type[models.Model], fields: set[str]) -> str:
    """The one fix for a unique set without the tenant; on a soft-deletable tenant model
    it also counts only alive rows (so prodpatterns.W010/W012 do not point another way)."""
    names = ", ".join(f'"{name}"' for name in [TENANT_FIELD, *sorted(fields)])
    slug = "_".join(sorted(fields))
    if is_soft_deletable(model):
        name = f"{model._meta.app_label}_{model._meta.model_name}_{slug}_alive_uniq"
        return (
            f'Use alive_unique({names}, name="{name}") in Meta.constraints instead: unique '
            "per tenant, counting alive rows only (django_prodpatterns.models.alive_unique)."
        )
    name = f"{model._meta.app_label}_{model._meta.model_name}_{slug}_uniq"
    return f'Use models.UniqueConstraint(fields=[{names}], name="{name}") instead.'


def _unchecked_references(model: type[models.Model]) -> list[Warning]:
    """W023: a reference to another tenant model with ``db_constraint=False``."""
    messages = []
    for field in model._meta.local_fields:
        if not (field.is_relation and (field.many_to_one or field.one_to_one)):
            continue
        if field.name == TENANT_FIELD or not isinstance(field, models.ForeignKey):
            continue  # a ForeignObject that is no ForeignKey has no database constraint
        if has_database_constraint(field):
            continue
        target = field.related_model
        if isinstance(target, type) and is_tenant_scoped(target):
            messages.append(
                Warning(
                    f"{model._meta.label}.{field.name} has db_constraint=False, so the "
                    "database does not check that it points at a row of the same tenant "
                    "(nor at any row).",
                    hint="Remove db_constraint=False to get the (tenant, key) foreign key, "
                    "or silence prodpatterns.W023 if the reference is checked elsewhere.",
                    obj=field,
                    id="prodpatterns.W023",
                )
            )
    return messages


@register()
def check_tenant_middleware(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[CheckMessage]:
    """W021 / E022: TenantMiddleware present, after AuthenticationMiddleware."""
    if not tenant_models():
        return []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    tenant = "django_prodpatterns.middleware.TenantMiddleware"
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if tenant not in middleware:
        return [
            Warning(
                "The project has tenant models but TenantMiddleware is not in MIDDLEWARE: "
                "requests run without a tenant, so tenant-scoped queries raise.",
                hint=f"Add {tenant!r} after {auth!r}.",
                id="prodpatterns.W021",
            )
        ]
    if auth in middleware and middleware.index(tenant) < middleware.index(auth):
        return [
            Error(
                "TenantMiddleware comes before AuthenticationMiddleware, so it cannot see "
                "the user whose tenant it should resolve.",
                hint=f"Move {tenant!r} after {auth!r}.",
                id="prodpatterns.E022",
            )
        ]
    return []


@register(Tags.database)
def check_forced_rls(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: object,
) -> list[Error]:
    """E020: a table owned by the connected role must FORCE row level security."""
    if not databases:
        return []
    messages = []
    # Unmanaged and multi-table-inheritance models get no generated DDL: W003 and E003.
    tables = {
        m._meta.db_table: m
        for m in tenant_models(app_configs)
        if m._meta.managed and not m._meta.parents
    }
    for alias in databases:
        connection = connections[alias]
        if connection.vendor != "postgresql" or not tables:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
                " AND pg_has_role(current_user, relowner, 'USAGE')"
                " AND NOT relforcerowsecurity",
                [list(tables)],
            )
            for (table,) in cursor.fetchall():
                messages.append(
                    Error(
                        f"Database {alias!r} owns {table} ({tables[table]._meta.label}), which "
                        "does not FORCE row level security: its policy does not apply to "
                        "this connection.",
                        hint=f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY (the migration "
                        "does it); run manage.py prodpatterns rls check.",
                        obj=alias,
                        id="prodpatterns.E020",
                    )
                )
    return messages


# --- E023: TENANT_USER_ATTRIBUTE leads from the user model to the tenant model --------------

# The built-in resolvers (django_prodpatterns.resolvers) read TENANT_USER_ATTRIBUTE.
BUILTIN_RESOLVERS = "django_prodpatterns.resolvers."
# How many relations deep the hint looks for paths from the user model to the tenant model.
SUGGESTION_DEPTH = 3


def _step(model: type[models.Model], name: str) -> Any:  # a field, relation or attribute
    """What ``name`` is on instances of ``model``: a field or relation (by the name an
    instance reads it under: a reverse relation's accessor, not its query name), a Python
    attribute of the class, or None when instances have no such attribute."""
    for relation in model._meta.related_objects:
        if relation.get_accessor_name() == name:
            return relation
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return getattr(model, name, None)
    # get_field() also finds a reverse relation by its query name ("member" for a foreign
    # key whose accessor is "member_set"); an instance has no such attribute.
    return None if field.auto_created and not field.concrete else field


def _target(step: Any) -> type[models.Model] | None:
    """The model a relation leads to (None for a generic foreign key)."""
    model = step.related_model
    return model if isinstance(model, type) else None


def _is_tenant(model: type[models.Model] | None, tenant_model: type[models.Model]) -> bool:
    return model is not None and model._meta.concrete_model is tenant_model._meta.concrete_model


def tenant_path_problem(
    model: type[models.Model], path: str, tenant_model: type[models.Model]
) -> str | None:
    """Why ``instance.<path>`` of a ``model`` instance is not a tenant, or None when it is
    (or cannot be known: a property or another Python attribute is trusted).

    Every step but the last must be a single relation (a foreign key or a one-to-one, either
    way); the last may also lead to many rows, which :func:`~..resolvers.user_tenants`
    reads as the user's tenants. It must end at ``tenant_model``.
    """
    names = path.split(".")
    for i, name in enumerate(names):
        label = model._meta.label
        step = _step(model, name)
        last = i == len(names) - 1
        if step is None:
            return f"{label} has no field, relation or attribute {name!r}"
        if not isinstance(step, models.Field | models.ForeignObjectRel):
            if inspect.isfunction(step):
                return f"{label}.{name} is a method; the resolver reads attributes, it calls none"
            return None  # a property or another descriptor: nothing more to know
        if isinstance(step, models.Field) and name != step.name:  # "tenant_id": a key
            return f"{label}.{name} is the key that {label}.{step.name} holds, not a row"
        if not step.is_relation:
            if last:
                return f"it ends at {label}.{name}, a {type(step).__name__}, not a relation"
            return f"{label}.{name} is a {type(step).__name__}, not a relation"
        target = _target(step)
        if target is None:
            return None  # a generic foreign key: any model
        if (step.one_to_many or step.many_to_many) and not last:
            return (
                f"{label}.{name} leads to many {target._meta.label} rows; only the last step "
                "of the path may"
            )
        if _is_tenant(target, tenant_model) and not last:
            return f"it goes on past the tenant model ({target._meta.label}.{names[i + 1]})"
        if last and not _is_tenant(target, tenant_model):
            return (
                f"it ends at {target._meta.label} ({label}.{name}), not at the tenant model "
                f"{tenant_model._meta.label}"
            )
        model = target
    return None


def user_attribute_problem(
    user_model: type[models.Model], attribute: str, tenant_model: type[models.Model]
) -> str | None:
    """Why neither ``user.<attribute>`` nor ``user.<attribute>s`` (many tenants) names the
    user's tenants, as :func:`~..resolvers.user_tenants` reads them; None when one does."""
    problem = tenant_path_problem(user_model, attribute, tenant_model)
    if problem is None or tenant_path_problem(user_model, f"{attribute}s", tenant_model) is None:
        return None
    return problem


def tenant_paths(
    model: type[models.Model], tenant_model: type[models.Model], depth: int = SUGGESTION_DEPTH
) -> list[str]:
    """Paths of relations from ``model`` to the tenant model, shortest first (for hints)."""
    found: list[str] = []
    frontier: list[tuple[str, type[models.Model]]] = [("", model)]
    for _ in range(depth):
        following = []
        for prefix, current in frontier:
            relations: list[models.Field | models.ForeignObjectRel | GenericForeignKey] = [
                *(f for f in current._meta.get_fields() if f.concrete and f.is_relation),
                *current._meta.related_objects,
            ]
            for relation in relations:
                target = _target(relation)
                if target is None or target is model:
                    continue
                name = (
                    relation.get_accessor_name()
                    if isinstance(relation, models.ForeignObjectRel)
                    else relation.name
                )
                path = f"{prefix}{name}"
                if _is_tenant(target, tenant_model):
                    found.append(path)
                elif relation.one_to_one or relation.many_to_one:
                    following.append((f"{path}.", target))
        frontier = following
    return found


@register()
def check_tenant_user_attribute(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[Error]:
    """E023: ``TENANT_USER_ATTRIBUTE`` does not lead from ``AUTH_USER_MODEL`` to the tenant.

    Checked when a built-in resolver reads it, or when the project sets it (then its own
    resolver may read it through ``user_tenants()``); not for the default attribute with a
    resolver of the project's own, which need not read it at all.
    """
    user_settings = app_settings.user_settings()
    if validate(user_settings) or not tenant_models():
        return []  # E002 reports bad settings; without tenant models nothing needs a tenant
    resolver = app_settings.TENANT_RESOLVER
    explicit = "TENANT_USER_ATTRIBUTE" in user_settings
    if not (explicit or resolver.startswith(BUILTIN_RESOLVERS)):
        return []
    try:
        user_model, tenant_model = get_user_model(), get_tenant_model()
    except (ImproperlyConfigured, LookupError, ValueError):
        return []  # Django's auth checks and this app's swapped-model checks say why
    attribute = app_settings.TENANT_USER_ATTRIBUTE
    problem = user_attribute_problem(user_model, attribute, tenant_model)
    if problem is None:
        return []
    user_label, tenant_label = user_model._meta.label, tenant_model._meta.label
    if resolver.startswith(BUILTIN_RESOLVERS):
        reader = f"The resolver {resolver!r}"
    else:  # set explicitly for a resolver of the project's own
        reader = "user_tenants() (for your resolver)"
    paths = tenant_paths(user_model, tenant_model)
    if paths:
        known = ", ".join(repr(p) for p in paths)
        hint = f"Set it to a path from {user_label} to {tenant_label}: {known}."
    else:
        hint = (
            f"Nothing links {user_label} to {tenant_label} yet: give a custom user model a "
            "ForeignKey to the tenant model ('tenant'), or add a model with a one-to-one to "
            "the user and a ForeignKey to the tenant ('profile.tenant'); see docs/tenants.md."
        )
    if not explicit:
        hint += " A resolver of your own that does not read it needs no TENANT_USER_ATTRIBUTE."
    return [
        Error(
            f"PRODPATTERNS['TENANT_USER_ATTRIBUTE'] is {attribute!r}, which does not lead from "
            f"the user model {user_label} to the tenant model {tenant_label}: {problem}. "
            f"{reader} reads request.user.{attribute}, so no request would find a tenant.",
            hint=hint,
            id="prodpatterns.E023",
        )
    ]
