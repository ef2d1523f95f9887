"""Checks of Citus mode (``PRODPATTERNS["CITUS"]``): shapes Citus cannot lay out.

Each is an error only in Citus mode: the same shape works on one PostgreSQL server. The
uniqueness rule (W020 elsewhere) is :mod:`.tenancy`'s E040.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register
from django.db import connections, models

from ..conf import app_settings
from ..db.citus import is_citus
from ..db.generated import has_database_constraint, is_tenant_model
from ..markers import AUDITED_MARKER, TENANT_FIELD
from ..models.tenancy import get_tenant_model
from ..ops.citus import PROPAGATE_SETTING
from .inventory import models_of


@register()
def check_citus_shapes(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[CheckMessage]:
    """E041-E043: links, references and a capture Citus mode cannot lay out."""
    if not app_settings.while_models_load("CITUS"):
        return []
    messages: list[CheckMessage] = []
    for model in models_of(app_configs):
        opts = model._meta
        if opts.abstract or opts.proxy or opts.swapped or not opts.managed:
            continue
        messages += _links(model) + _shared_references(model)
    tenant_model = get_tenant_model()
    in_scope = app_configs is None or tenant_model._meta.app_config in app_configs
    if in_scope and getattr(tenant_model, AUDITED_MARKER, False) and tenant_model._meta.managed:
        messages.append(
            Error(
                f"{tenant_model._meta.label} is the tenant model and audited: in Citus mode "
                "it is a reference table, a copy on every node, whose triggers would run "
                "on every node and write each entry once per node.",
                hint="Leave AuditedModel out of the tenant model's bases in Citus mode "
                "(tenant models and shared models are audited).",
                obj=tenant_model,
                id="prodpatterns.E043",
            )
        )
    return messages


def _links(model: type[models.Model]) -> list[CheckMessage]:
    """E041: a many-to-many touching a tenant model through a table without a tenant."""
    messages: list[CheckMessage] = []
    for field in model._meta.local_many_to_many:
        through = field.remote_field.through
        target = field.remote_field.model
        if not isinstance(through, type) or not isinstance(target, type):
            continue  # unresolved: Django's own checks report it
        if (is_tenant_model(model) or is_tenant_model(target)) and not is_tenant_model(through):
            messages.append(
                Error(
                    f"{model._meta.label}.{field.name} links tenant rows through "
                    f"{through._meta.label}, which has no tenant column: Citus can place "
                    "it on no shard.",
                    hint="Give the field a through model built on TenantModel, with a "
                    "ForeignKey to each end.",
                    obj=field,
                    id="prodpatterns.E041",
                )
            )
    return messages


def _shared_references(model: type[models.Model]) -> list[CheckMessage]:
    """E042: a database foreign key between a tenant table and a shared one (other than
    the tenant model, a reference table): Citus refuses a key between a distributed and a
    local table, either way."""
    tenant_model = get_tenant_model()
    messages: list[CheckMessage] = []
    for field in model._meta.local_fields:
        if not (field.many_to_one or field.one_to_one) or not has_database_constraint(field):
            continue
        if field.name == TENANT_FIELD and is_tenant_model(model):
            continue
        target = field.related_model
        if not isinstance(target, type) or target is tenant_model:
            continue
        if is_tenant_model(model) != is_tenant_model(target):
            messages.append(
                Error(
                    f"{model._meta.label}.{field.name} is a database foreign key between a "
                    f"tenant table and a shared one ({target._meta.label}): Citus refuses "
                    "a key between a distributed table and a local one.",
                    hint="Set db_constraint=False on the field (the application keeps the "
                    "reference), or make both ends tenant models.",
                    obj=field,
                    id="prodpatterns.E042",
                )
            )
    return messages


def propagation_messages(alias: str) -> list[Error]:
    """E044: in Citus mode, on a Citus database, the alias's role does not forward
    ``SET LOCAL`` to the workers: the signed context never reaches a shard, whose policy
    then admits nothing (fail closed: every tenant query returns no rows)."""
    if not app_settings.citus:
        return []
    connection = connections[alias]
    if not is_citus(connection):
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [PROPAGATE_SETTING])
        (value,) = cursor.fetchone()
    if value == "local":
        return []
    return [
        Error(
            f"Database {alias!r} is a Citus database whose role does not forward SET LOCAL "
            f"to the workers ({PROPAGATE_SETTING} is {value!r}): the tenant context never "
            "reaches a shard, so every tenant query returns no rows.",
            hint=f"Run `manage.py prodpatterns setup` in Citus mode, or ALTER ROLE <role> SET "
            f"{PROPAGATE_SETTING} = 'local' for the role the alias connects as.",
            obj=alias,
            id="prodpatterns.E044",
        )
    ]
