"""Keyset pagination: pages that cost the same at any depth, with signed cursors.

OFFSET makes PostgreSQL read and discard every skipped row; a keyset page starts at the
last row seen (``WHERE (a, b) > (%s, %s) ORDER BY a, b LIMIT n``) and reads only its own
rows from an index. ::

    paginator = KeysetPaginator(Order.objects.order_by("-placed_at"), per_page=50)
    page = paginator.page(request.GET.get("cursor"))
    page.object_list, page.next_cursor, page.previous_cursor

The primary key is appended to the ordering (in the direction of the last column), so the
order is total and no row is skipped or repeated when rows share a value. Orderings may
mix ascending and descending fields and may use nullable fields (NULLs sort last ascending
and first descending, as PostgreSQL does by default, on every database).

Cursors are opaque: a cursor travels in URLs and API bodies, so it tells nothing that its
page did not show. It holds the boundary row's ordering values (the page need not show
them, nor the primary key) encrypted and authenticated with a key derived from the
project's ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` are accepted too) for this model and
ordering; the ordering's column names are bound into that key instead of being spelled
out. A tampered, truncated or forged cursor, or one made for another model or ordering,
raises :class:`~django_prodpatterns.exceptions.InvalidCursor`, which Django answers with a
400. The same page always gets the same cursor, so pages stay cacheable.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.db.models.expressions import Func, OrderBy
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac

from .exceptions import InvalidCursor

if TYPE_CHECKING:
    from django.db.models.sql.compiler import SQLCompiler

_M = TypeVar("_M", bound=models.Model)

FORWARD, BACKWARD = "f", "b"

# Cursor sealing: a deterministic authenticated encryption (SIV) built from HMAC-SHA256,
# Django's own primitive, so that no cryptography package is needed. The synthetic IV is a
# MAC of the plaintext; the plaintext is XORed with an HMAC keystream (counter mode) keyed
# by that IV. Opening recomputes the MAC over what it decrypted and compares.
_SALT = "django_prodpatterns.pagination.cursor"
_IV_BYTES = 16
_BLOCK = 32  # bytes of keystream per HMAC-SHA256
_PAD = 16  # plaintexts are padded to a multiple of this, so lengths say little


def _exact(value: object) -> str:
    """JSON for cursor values, to the last digit: Django's encoder cuts datetimes to
    milliseconds, and a key that lost precision skips the rows that share its prefix."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"A cursor cannot hold a {type(value).__name__}.")


@dataclass(frozen=True)
class Key:
    """One column of the ordering: its field and whether it sorts descending."""

    name: str
    field: models.Field
    descending: bool

    @property
    def nullable(self) -> bool:
        return bool(self.field.null)

    def order(self, reverse: bool) -> OrderBy:
        descending = self.descending != reverse
        expression = models.F(self.name)
        # NULLs last ascending, first descending; a reversed walk flips both.
        return expression.desc(nulls_first=True) if descending else expression.asc(nulls_last=True)


class RowValueAfter(Func):
    """``(a, b) > (%s, %s)`` (or ``<``): one index range condition for a uniform order."""

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, names: Sequence[str], values: Sequence[object], *, less: bool) -> None:
        self.less = less
        lhs = [models.F(name) for name in names]
        rhs = [models.Value(value) for value in values]
        super().__init__(*lhs, *rhs)

    # django-stubs types the parameters as a tuple of str | int; any value can be one.
    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: object
    ) -> tuple[str, list[object]]:
        parts: list[str] = []
        params: list[object] = []
        for expression in self.source_expressions:
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        half = len(parts) // 2
        operator = "<" if self.less else ">"
        return f"({', '.join(parts[:half])}) {operator} ({', '.join(parts[half:])})", params


@dataclass
class KeysetPage(Generic[_M]):
    """One page: its rows, and the cursors of its neighbours (``None`` where none)."""

    object_list: list[_M]
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None

    def __iter__(self) -> Iterator[_M]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


class KeysetPaginator(Generic[_M]):
    """Pages of ``queryset`` in its ``order_by()`` order, by cursor instead of number.

    Args:
        queryset: Any QuerySet with an explicit ordering (``order_by()`` or ``Meta.ordering``)
            of concrete fields of the model, without ``distinct``.
        per_page: Rows per page.
    """

    def __init__(self, queryset: models.QuerySet[_M], per_page: int) -> None:
        if per_page < 1:
            raise ValueError("per_page must be at least 1.")
        self.queryset, self.per_page = queryset, per_page
        self.keys = self._keys(queryset)
        ordering = ",".join(("-" if k.descending else "") + k.name for k in self.keys)
        # Never leaves the server: the seal's keys are derived from it, so a cursor opens
        # only for this model and ordering without naming either.
        self._context = f"{queryset.model._meta.label}|{ordering}"

    # --- the public API ---------------------------------------------------------------

    def page(self, cursor: str | None = None) -> KeysetPage[_M]:
        """The first page, or the page a cursor of this paginator points to."""
        if not cursor:
            rows, more = self._fetch(None, FORWARD)
            return self._page(rows, has_next=more, has_previous=False)
        values, direction, inclusive = self._decode(cursor)
        rows, more = self._fetch(values, direction, inclusive)
        if direction == BACKWARD and not rows:
            return self.page(None)  # everything before was deleted: start again
        # The cursor's own row lies on the other side, so that side is taken to have rows
        # (one query per page; a probe would double the cost of every page). If that row
        # and its neighbours were deleted meanwhile, the page over there adjusts itself.
        if direction == FORWARD:
            page = self._page(rows, has_next=more, has_previous=True)
            if not rows:  # the rest was deleted: the previous page ends at the cursor row
                page.previous_cursor = self._encode(values, BACKWARD, inclusive=True)
            return page
        return self._page(rows, has_next=True, has_previous=more)

    # --- building the queries ---------------------------------------------------------

    def _keys(self, queryset: models.QuerySet[_M]) -> list[Key]:
        opts = queryset.model._meta
        ordering = list(queryset.query.order_by) or list(opts.ordering or ())
        if not ordering:
            raise ValueError("KeysetPaginator needs an ordered QuerySet (order_by or Meta).")
        keys: list[Key] = []
        for item in ordering:
            if not isinstance(item, str) or item.startswith("?") or "__" in item:
                raise ValueError(
                    f"KeysetPaginator orders by fields of {opts.label} only, not {item!r}."
                )
            name = item.lstrip("-")
            try:
                field = cast(models.Field, opts.pk if name == "pk" else opts.get_field(name))
            except FieldDoesNotExist:
                raise ValueError(f"{opts.label} has no field {name!r} to order by.") from None
            keys.append(Key(field.attname, field, item.startswith("-")))
        if not any(k.field.primary_key or (k.field.unique and not k.nullable) for k in keys):
            keys.append(Key(opts.pk.attname, opts.pk, keys[-1].descending))
        return keys

    def _after(self, values: Sequence[object], reverse: bool) -> Q:
        """Rows after ``values`` in this order (before them when ``reverse``)."""
        directions = {k.descending != reverse for k in self.keys}
        if len(directions) == 1 and not any(k.nullable for k in self.keys):
            less = directions.pop()
            return Q(RowValueAfter([k.name for k in self.keys], values, less=less))
        condition = Q(pk__in=[])  # nothing, until a column says otherwise
        equal = Q()
        for key, value in zip(self.keys, values, strict=True):
            condition |= equal & self._beyond(key, value, key.descending != reverse)
            equal &= _is(key, value)
        first, first_value = self.keys[0], values[0]
        if not first.nullable:  # a bound on the leading column lets an index start there
            bound = "lte" if first.descending != reverse else "gte"
            condition &= Q(**{f"{first.name}__{bound}": first_value})
        return condition

    @staticmethod
    def _beyond(key: Key, value: object, descending: bool) -> Q:
        """Rows strictly past ``value`` in this column (NULLs last ascending)."""
        if descending:  # NULLs first: past a value means smaller; past NULL, any value
            if value is None:
                return Q(**{f"{key.name}__isnull": False})
            return Q(**{f"{key.name}__lt": value})
        if value is None:
            return Q(pk__in=[])
        beyond = Q(**{f"{key.name}__gt": value})
        return beyond | Q(**{f"{key.name}__isnull": True}) if key.nullable else beyond

    def _ordered(self, reverse: bool) -> models.QuerySet[_M]:
        return self.queryset.order_by(*(k.order(reverse) for k in self.keys))

    def _equal(self, values: Sequence[object]) -> Q:
        return Q(*(_is(k, v) for k, v in zip(self.keys, values, strict=True)))

    def _fetch(
        self, values: Sequence[object] | None, direction: str, inclusive: bool = False
    ) -> tuple[list[_M], bool]:
        reverse = direction == BACKWARD
        queryset = self._ordered(reverse)
        if values is not None:
            condition = self._after(values, reverse)
            queryset = queryset.filter(condition | self._equal(values) if inclusive else condition)
        rows = list(queryset[: self.per_page + 1])
        more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        return (rows[::-1] if reverse else rows), more

    # --- cursors ----------------------------------------------------------------------

    def _page(self, rows: list[_M], *, has_next: bool, has_previous: bool) -> KeysetPage[_M]:
        return KeysetPage(
            object_list=rows,
            has_next=has_next,
            has_previous=has_previous,
            next_cursor=self._encode(self._values(rows[-1]), FORWARD)
            if rows and has_next
            else None,
            previous_cursor=self._encode(self._values(rows[0]), BACKWARD)
            if rows and has_previous
            else None,
        )

    def _values(self, row: _M) -> list[object]:
        return [getattr(row, key.name) for key in self.keys]

    def _encode(self, values: Sequence[object], direction: str, inclusive: bool = False) -> str:
        payload = json.dumps([direction, inclusive, list(values)], default=_exact)
        return self._seal(payload.encode())

    def _decode(self, cursor: str) -> tuple[list[object], str, bool]:
        try:
            plaintext = self._open(cursor)
            direction, inclusive, raw = json.loads(plaintext.decode())
        except (ValueError, TypeError, UnicodeError):
            # one answer for every kind of bad cursor: which check failed is nobody's business
            raise InvalidCursor(
                "The pagination cursor is invalid, or belongs to another listing."
            ) from None
        if (
            direction not in (FORWARD, BACKWARD)
            or inclusive not in (True, False)
            or not isinstance(raw, list)
            or len(raw) != len(self.keys)
        ):
            raise InvalidCursor("The pagination cursor is invalid.")
        try:
            values = [
                None if value is None else key.field.to_python(value)
                for key, value in zip(self.keys, raw, strict=True)
            ]
        except (ValidationError, TypeError, ValueError):
            raise InvalidCursor("The pagination cursor is invalid.") from None
        return values, direction, inclusive

    def _seal(self, plaintext: bytes) -> str:
        """``plaintext`` encrypted and authenticated for this model and ordering."""
        plaintext += b" " * (-len(plaintext) % _PAD)  # JSON ignores trailing spaces
        secret = settings.SECRET_KEY
        iv = self._mac(secret, plaintext)
        sealed = iv + _xor(plaintext, self._keystream(secret, iv, len(plaintext)))
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def _open(self, cursor: str) -> bytes:
        """The plaintext of a cursor sealed by :meth:`_seal` (ValueError if none)."""
        sealed = base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4))
        iv, body = sealed[:_IV_BYTES], sealed[_IV_BYTES:]
        if len(iv) < _IV_BYTES or not body:
            raise ValueError("too short")
        for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
            plaintext = _xor(body, self._keystream(secret, iv, len(body)))
            if constant_time_compare(self._mac(secret, plaintext), iv):
                return plaintext
        raise ValueError("not sealed for this listing")

    def _hmac(self, purpose: str, secret: str | bytes, message: bytes) -> bytes:
        """HMAC-SHA256 under a key for ``purpose``, this model and ordering, and ``secret``."""
        key_salt = f"{_SALT}.{purpose}:{self._context}"
        return salted_hmac(key_salt, message, secret=secret, algorithm="sha256").digest()

    def _mac(self, secret: str | bytes, plaintext: bytes) -> bytes:
        return self._hmac("iv", secret, plaintext)[:_IV_BYTES]

    def _keystream(self, secret: str | bytes, iv: bytes, length: int) -> bytes:
        blocks = range(math.ceil(length / _BLOCK))
        stream = b"".join(self._hmac("stream", secret, iv + i.to_bytes(4, "big")) for i in blocks)
        return stream[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _is(key: Key, value: object) -> Q:
    """The column equals ``value`` (``IS NULL`` for None)."""
    return Q(**{f"{key.name}__isnull": True}) if value is None else Q(**{key.name: value})


def keyset_page(
    request: HttpRequest, queryset: models.QuerySet[_M], per_page: int, param: str = "cursor"
) -> KeysetPage[_M]:
    """The page a request asks for with ``?cursor=`` (a bad cursor: InvalidCursor, a 400)."""
    return KeysetPaginator(queryset, per_page).page(request.GET.get(param) or None)
