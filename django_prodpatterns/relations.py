"""The ``on_delete`` graph between models, as the soft-delete cascade walks it.

Kept apart from :mod:`django_prodpatterns.deletion` so checks and admin can read the same
graph without running anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.db import models
from django.db.models import ForeignObjectRel

from .markers import is_soft_deletable


def concrete_model_of(model: type[models.Model] | models.Model) -> type[models.Model]:
    """``model._meta.concrete_model``, which every model but an abstract one has."""
    concrete = model._meta.concrete_model
    assert concrete is not None, f"{model!r} is abstract"
    return concrete


@dataclass(frozen=True)
class Edge:
    """One way rows of ``child`` hang on rows of a parent model.

    ``field`` is the child's ForeignKey/OneToOneField, or, for a generic relation, the
    parent's ``GenericRelation``.
    """

    child: type[models.Model]
    field: models.ForeignObject  # a GenericRelation is one too
    on_delete: Callable[..., object] | None
    generic: bool = False

    @property
    def name(self) -> str:
        """``"app_label.Model.field"``, for messages."""
        if self.generic:
            return f"{self.field.model._meta.label}.{self.field.name}"
        return f"{self.child._meta.label}.{self.field.name}"


def reverse_relations(model: type[models.Model]) -> list[ForeignObjectRel]:
    """Every reverse ForeignKey/OneToOne/ManyToMany relation pointing at ``model``.

    Unlike ``_meta.related_objects`` this includes hidden ones (``related_name="+"``, or
    ending in ``+``): a hidden relation still CASCADEs and still PROTECTs. Generic relations
    (not concrete) are left to the caller.
    """
    return [
        field
        for field in model._meta.get_fields(include_hidden=True)
        # auto-created and not concrete: reverse relations, which are ForeignObjectRels
        if isinstance(field, ForeignObjectRel) and field.field.concrete
    ]


@cache
def child_edges(model: type[models.Model]) -> tuple[Edge, ...]:
    """Every relation whose rows depend on rows of ``model``.

    Reverse ForeignKeys and OneToOneFields (a forward OneToOne is a parent, never a child),
    the ForeignKeys of explicit many-to-many ``through`` models, and ``GenericRelation``s.
    Auto-created many-to-many tables and multi-table-inheritance parent links are left out:
    the first hold links, not data, and the second share the parent's row.
    """
    model = concrete_model_of(model)
    edges = []
    for rel in reverse_relations(model):
        if rel.many_to_many or rel.related_model._meta.auto_created:
            continue
        if getattr(rel, "parent_link", False):
            continue
        edges.append(Edge(concrete_model_of(rel.related_model), rel.field, rel.on_delete))
    for field in model._meta.private_fields:
        if hasattr(field, "bulk_related_objects"):  # GenericRelation
            edges.append(Edge(concrete_model_of(field.related_model), field, models.CASCADE, True))
    return tuple(edges)


@cache
def cascade_parent_fields(model: type[models.Model]) -> tuple[models.ForeignKey, ...]:
    """The ForeignKeys of ``model`` through which a soft-deletable parent cascades to it."""
    model = concrete_model_of(model)
    return tuple(
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)  # the concrete relations: ForeignKey, OneToOne
        and (field.many_to_one or field.one_to_one)
        and not getattr(field.remote_field, "parent_link", False)
        and field.remote_field.on_delete is models.CASCADE
        and is_soft_deletable(field.related_model)
    )
