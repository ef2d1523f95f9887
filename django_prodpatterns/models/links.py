"""Many-to-many links through a soft-deletable ``through`` model count only while alive.

Django joins a many-to-many through its ``through`` table without looking at the row: a
link whose through row is soft-deleted would still show in ``order.tags.all()``,
``tag.orders.all()``, ``prefetch_related("tags")`` and ``values_list("tags__name")``.
Every one of those walks the many-to-many field's path, so the field's path is where the
condition goes: the join into the through table gets ``deleted_at IS NULL`` in its ``ON``
clause (as ``GenericRelation`` adds its content type there). The through model's own
foreign keys are left alone, so ``OrderTag.all_objects.filter(order=...)`` still sees
every row.

``exclude(tags__name=...)``, which Django turns into a subquery on the through table,
gets the same condition there.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from django.db import models
from django.db.models import ForeignObjectRel
from django.db.models.lookups import Lookup
from django.db.models.query_utils import PathInfo
from django.db.models.sql.where import AND, WhereNode

from ..markers import DELETED_AT, is_soft_deletable

# A join's extra condition, as Django's get_extra_restriction() returns it.
Restriction = WhereNode | Lookup | None

if TYPE_CHECKING:
    _ManyToManyField = models.ManyToManyField
else:
    _ManyToManyField = object  # at run time a plain mixin, put before the field's class


class AliveThroughJoin:
    """Stands in for the through model's reverse relation as the join into the through
    table, adding ``<through>.deleted_at IS NULL`` to the join condition."""

    def __init__(self, rel: ForeignObjectRel) -> None:
        self.rel = rel

    def __getattr__(self, name: str) -> Any:  # the relation's, whatever it is
        if name == "rel":  # not set yet (unpickling): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.rel, name)

    def get_extra_restriction(self, alias: str, related_alias: str) -> Restriction:
        # Join.as_sql passes the joined table's alias first: here, the through table.
        return _with_alive(
            self.rel.related_model, alias, self.rel.get_extra_restriction(alias, related_alias)
        )

    @property
    def field(self) -> AliveThroughField:
        """The through model's foreign key, as ``exclude()`` reaches it when it turns the
        join into a subquery on the through table (``Query.trim_start``)."""
        return AliveThroughField(self.rel.field)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AliveThroughJoin) and other.rel == self.rel

    def __hash__(self) -> int:
        return hash((AliveThroughJoin, self.rel))

    def __reduce__(self) -> tuple[type[AliveThroughJoin], tuple[ForeignObjectRel]]:
        return AliveThroughJoin, (self.rel,)


class AliveThroughField:
    """The through model's foreign key, adding the alive condition where ``exclude()``
    asks the field itself for the through table's extra condition."""

    def __init__(self, wrapped: models.ForeignObject) -> None:
        self.wrapped = wrapped

    def __getattr__(self, name: str) -> Any:  # the field's, whatever it is
        if name == "wrapped":
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def get_extra_restriction(self, alias: str | None, related_alias: str) -> Restriction:
        # The field's own model (the through table) is the related alias here. Django passes
        # alias None here (Query.trim_start), which django-stubs does not allow for.
        own = self.wrapped.get_extra_restriction(alias, related_alias)  # type: ignore[arg-type]
        return _with_alive(self.wrapped.model, related_alias, own)


def _with_alive(through: type[models.Model], alias: str, own: Restriction) -> WhereNode | Lookup:
    """``own`` (or nothing) and ``<alias>.deleted_at IS NULL``."""
    deleted_at = cast(models.Field, through._meta.get_field(DELETED_AT))
    isnull = cast("type[Lookup]", deleted_at.get_lookup("isnull"))  # every field has it
    alive = isnull(deleted_at.get_col(alias), True)
    # A WhereNode's children may be lookups (django-stubs: nodes only).
    return alive if own is None else WhereNode([own, alive], connector=AND)  # type: ignore[list-item]


class AliveLinksMixin(_ManyToManyField):
    """Mixed into a many-to-many field's class when its through model is soft-deletable."""

    def _get_path_info(
        self, direct: bool = False, filtered_relation: object = None
    ) -> list[PathInfo]:
        # Django's own (private, not in django-stubs), which path_infos caches
        infos: list[PathInfo] = super()._get_path_info(  # type: ignore[misc]
            direct=direct, filtered_relation=filtered_relation
        )
        through = self.remote_field.through
        if through is None or not is_soft_deletable(through):
            return infos  # a historical model built by migrations, or swapped later
        first = infos[0]  # the join from one end into the through table
        # The join field here is the through model's reverse relation (django-stubs: a
        # Field), and the stand-in passes for it by delegating everything else.
        join = AliveThroughJoin(cast(ForeignObjectRel, first.join_field))
        return [first._replace(join_field=join), *infos[1:]]  # type: ignore[arg-type]


@cache
def _alive_links_class(field_class: type) -> type:
    """``field_class`` with :class:`AliveLinksMixin`, under the same module and name, so
    migrations keep writing the user's own field class."""
    return type(
        field_class.__name__,
        (AliveLinksMixin, field_class),
        {"__module__": field_class.__module__, "__qualname__": field_class.__qualname__},
    )


def hide_deleted_links(all_models: Iterable[type[models.Model]]) -> None:
    """Give every many-to-many through a soft-deletable model its alive-only path.

    Called from ``AppConfig.ready()``, when every ``through`` is resolved and before any
    query has cached a path.
    """
    for model in all_models:
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if (
                isinstance(through, type)
                and is_soft_deletable(through)
                and not isinstance(field, AliveLinksMixin)
            ):
                # A class is hashable (mypy checks the hash of its instances instead).
                field.__class__ = _alive_links_class(type(field))  # type: ignore[arg-type]
                for name in ("path_infos", "reverse_path_infos"):
                    field.__dict__.pop(name, None)
                field.remote_field.__dict__.pop("path_infos", None)


__all__ = ["AliveLinksMixin", "AliveThroughJoin", "hide_deleted_links"]
