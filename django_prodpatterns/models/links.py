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

from functools import cache
from typing import Any

from django.db.models.sql.where import AND, WhereNode

from ..markers import is_soft_deletable

DELETED_AT = "deleted_at"


class AliveThroughJoin:
    """Stands in for the through model's reverse relation as the join into the through
    table, adding ``<through>.deleted_at IS NULL`` to the join condition."""

    def __init__(self, rel: Any) -> None:
        self.rel = rel

    def __getattr__(self, name: str) -> Any:
        if name == "rel":  # not set yet (unpickling): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.rel, name)

    def get_extra_restriction(self, alias: str, related_alias: str) -> Any:
        # Join.as_sql passes the joined table's alias first: here, the through table.
        return _with_alive(
            self.rel.related_model, alias, self.rel.get_extra_restriction(alias, related_alias)
        )

    @property
    def field(self) -> Any:
        """The through model's foreign key, as ``exclude()`` reaches it when it turns the
        join into a subquery on the through table (``Query.trim_start``)."""
        return AliveThroughField(self.rel.field)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AliveThroughJoin) and other.rel == self.rel

    def __hash__(self) -> int:
        return hash((AliveThroughJoin, self.rel))

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return AliveThroughJoin, (self.rel,)


class AliveThroughField:
    """The through model's foreign key, adding the alive condition where ``exclude()``
    asks the field itself for the through table's extra condition."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        if name == "wrapped":
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def get_extra_restriction(self, alias: str | None, related_alias: str) -> Any:
        # The field's own model (the through table) is the related alias here.
        own = self.wrapped.get_extra_restriction(alias, related_alias)
        return _with_alive(self.wrapped.model, related_alias, own)


def _with_alive(through: Any, alias: str, own: Any) -> Any:
    """``own`` (or nothing) and ``<alias>.deleted_at IS NULL``."""
    deleted_at = through._meta.get_field(DELETED_AT)
    alive = deleted_at.get_lookup("isnull")(deleted_at.get_col(alias), True)
    return alive if own is None else WhereNode([own, alive], connector=AND)


class AliveLinksMixin:
    """Mixed into a many-to-many field's class when its through model is soft-deletable."""

    def _get_path_info(self, direct: bool = False, filtered_relation: Any = None) -> list[Any]:
        infos = super()._get_path_info(direct=direct, filtered_relation=filtered_relation)
        if not is_soft_deletable(self.remote_field.through):
            return infos  # a historical model built by migrations, or swapped later
        first = infos[0]  # the join from one end into the through table
        return [first._replace(join_field=AliveThroughJoin(first.join_field)), *infos[1:]]


@cache
def _alive_links_class(field_class: type) -> type:
    """``field_class`` with :class:`AliveLinksMixin`, under the same module and name, so
    migrations keep writing the user's own field class."""
    return type(
        field_class.__name__,
        (AliveLinksMixin, field_class),
        {"__module__": field_class.__module__, "__qualname__": field_class.__qualname__},
    )


def hide_deleted_links(all_models: Any) -> None:
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
                field.__class__ = _alive_links_class(type(field))
                for name in ("path_infos", "reverse_path_infos"):
                    field.__dict__.pop(name, None)
                field.remote_field.__dict__.pop("path_infos", None)


__all__ = ["AliveLinksMixin", "AliveThroughJoin", "hide_deleted_links"]
