"""Checks on tenant models and their set-up: E020-E022, W020-W025."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections, models

from ..markers import TENANT_FIELD, TENANT_SCOPED_ATTRIBUTE, is_soft_deletable, is_tenant_scoped
from .database import installed_models, models_of


def tenant_models(app_configs: Any = None) -> list[Any]:
    return installed_models(app_configs, TENANT_SCOPED_ATTRIBUTE)


@register()
def check_tenant_models(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """E021, W020 and W023: generated DDL present; uniqueness and references never cross
    tenants."""
    from ..db.constraints import RowLevelSecurity

    messages: list[Any] = []
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
        for name, fields in unique_sets:
            if TENANT_FIELD not in fields:
                messages.append(
                    Warning(
                        f"{opts.label} has a unique constraint ({name}) without the tenant: "
                        "one tenant's value blocks, and so reveals, another tenant's.",
                        hint=_tenant_unique_hint(model, fields),
                        obj=model,
                        id="prodpatterns.W020",
                    )
                )
    return messages


def _natural_primary_key(model: Any) -> list[Warning]:
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
def check_references_into_tenants(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
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
            if not (isinstance(target, type) and is_tenant_scoped(target)):
                continue
            if not field.db_constraint:
                continue
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


def _to_field_targets(model: Any) -> set[str]:
    """Names of ``model``'s fields that a foreign key references by ``to_field``."""
    from ..relations import reverse_relations

    return {
        rel.field.target_field.name
        for rel in reverse_relations(model)
        if rel.field.many_to_one or rel.field.one_to_one
        if not rel.field.target_field.primary_key
    }


def _tenant_unique_hint(model: Any, fields: set[str]) -> str:
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


def _unchecked_references(model: Any) -> list[Any]:
    """W023: a reference to another tenant model with ``db_constraint=False``."""
    messages = []
    for field in model._meta.local_fields:
        if not (field.is_relation and (field.many_to_one or field.one_to_one)):
            continue
        if field.name == TENANT_FIELD or field.db_constraint:
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
def check_tenant_middleware(app_configs: Any = None, **kwargs: Any) -> list[Any]:
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
    app_configs: Any = None, databases: Iterable[str] | None = None, **kwargs: Any
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
