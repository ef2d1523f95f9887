"""Optimistic locking in the admin: a form saved over a newer version is shown again.

Every change form, inline row and ``list_editable`` row of a versioned model carries the
version it was rendered with. On save the row is locked (the admin already runs the view
in a transaction) and its version compared; a newer one is a validation error that names
who changed the row, when, and which fields (from the audit trail when the model is
audited), and nothing is written. The re-shown form carries the current version, so
saving it again is a deliberate overwrite of what the editor has now seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, QueryDict
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from ..markers import CONFLICT_IGNORED_FIELDS, TENANT_FIELD, VERSION, is_audited
from ..querysets import rows_of

if TYPE_CHECKING:
    from django.contrib.admin.options import InlineModelAdmin, _FieldsetSpec
    from django.forms.renderers import BaseRenderer
    from django_stubs_ext import StrOrPromise

    from ..models.locking import VersionedModel

    # What BaseForm.add_error() takes for one field (or, in a dict by field, for several).
    _Error = ValidationError | StrOrPromise | Sequence[ValidationError | StrOrPromise]

    # For type checkers each mixin is a ModelForm, ModelAdmin or inline of its model; at
    # run time it is a plain class (Generic, so that ``VersionedAdminMixin[Post]`` is
    # valid there too).
    _ModelFormOf = forms.ModelForm
    _ModelAdminOf = admin.ModelAdmin
    _InlineOf = InlineModelAdmin
else:
    _ModelFormOf = _ModelAdminOf = _InlineOf = Generic

_VersionedT = TypeVar("_VersionedT", bound="VersionedModel")
_ParentT = TypeVar("_ParentT", bound=models.Model)
_FormT = TypeVar("_FormT", bound="forms.ModelForm[Any]")
_FormSetT = TypeVar("_FormSetT", bound="forms.BaseFormSet[Any]")

FIELD = "prodpatterns_version"  # the form field; never a model field
NOT_CHANGES = CONFLICT_IGNORED_FIELDS  # bookkeeping, not an editor's change
AUDIT_LOOKBACK = 50  # recent audit entries read to explain a conflict

__all__ = [
    "AUDIT_LOOKBACK",
    "FIELD",
    "NOT_CHANGES",
    "PkAndVersionInput",
    "VersionedAdmin",
    "VersionedAdminMixin",
    "VersionedFormMixin",
    "VersionedInlineMixin",
    "conflict_message",
    "version_field",
    "versioned_form",
    "versioned_formset",
]


class PkAndVersionInput(forms.HiddenInput):
    """The hidden primary key of an inline or ``list_editable`` row, followed by its
    version: those templates render the pk of each row and no other hidden field."""

    def __init__(self, form: forms.BaseForm, attrs: dict[str, object] | None = None) -> None:
        super().__init__(attrs)
        self.form = form

    def render(
        self,
        name: str,
        value: object,
        attrs: dict[str, object] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        version = self.form[FIELD]
        return format_html(
            '{}<input type="hidden" name="{}" value="{}">',
            super().render(name, value, attrs, renderer),
            version.html_name,
            version.value(),
        )


class VersionedFormMixin(_ModelFormOf[_VersionedT]):
    """For ModelForms of versioned models: carry the version, refuse a stale save."""

    # Set by the admin for list_editable rows, whose non-field errors are not displayed.
    conflict_field: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.setdefault(FIELD, version_field())
        if self.instance.pk is not None:
            self.fields[FIELD].initial = self.instance.version

    def embed_version_in_pk(self) -> None:
        """Render the version together with the pk (inline and changelist rows)."""
        pk = self._meta.model._meta.pk.name
        if pk in self.fields and self.instance.pk is not None:
            self.fields[pk].widget = PkAndVersionInput(self)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.instance.pk is None or self.instance._state.adding:
            return cleaned
        # A form's clean() may return None: Django keeps its cleaned_data then.
        seen = (self.cleaned_data if cleaned is None else cleaned).get(FIELD)
        model = type(self.instance)
        tenant = getattr(self.instance, f"{TENANT_FIELD}_id", None)
        current = (
            rows_of(model, self.instance._state.db, [self.instance.pk], [tenant])
            .select_for_update()
            .first()
        )
        if current is None or seen == current.version:
            return cleaned
        # Show the current version: saving again is deliberate. A bound form's data is
        # request.POST (a QueryDict) or a dict; either copies to a mutable one.
        data = cast("QueryDict | dict[str, object]", self.data).copy()
        data[self.add_prefix(FIELD)] = str(current.version)
        self.data = data
        raise ValidationError(conflict_message(self, current, seen), code="conflict")

    @overload
    def add_error(self, field: None, error: Mapping[str, _Error]) -> None: ...
    @overload
    def add_error(self, field: str | None, error: _Error) -> None: ...
    def add_error(self, field: str | None, error: Any) -> None:  # Any: either overload's error
        if field is None and self.conflict_field and getattr(error, "code", "") == "conflict":
            field = self.conflict_field
        super().add_error(field, error)


def conflict_message(form: forms.BaseForm, current: VersionedModel, seen: int | None) -> str:
    """Who changed the row after ``seen``, when, and which fields, with their values now."""
    opts = current._meta
    who, when, columns = _from_audit(current, seen)
    if columns is None:  # not audited: what differs from what this editor sent
        # Only the model's columns: the form's own fields (the version, or any the
        # project's form declares) have none.
        column_of = {f.name: f.column for f in opts.concrete_fields if f.column is not None}
        columns = [
            column_of[name]
            for name in form.changed_data
            if name in column_of and getattr(current, name, None) != form.cleaned_data.get(name)
        ]
    by_column = {f.column: f for f in opts.concrete_fields}
    changed = [
        f"{by_column[c].verbose_name} ({_('now')} “{_short(current, by_column[c])}”)"
        for c in columns
        if c in by_column and c not in NOT_CHANGES
    ]
    text = _("%(who)s saved this %(model)s at %(when)s, after you opened it") % {
        "who": who or _("Someone else"),
        "model": opts.verbose_name,
        "when": localize(when) if when else _("an unknown time"),
    }
    text += f" ({_('version')} {current.version}, {_('yours was')} {seen})."
    if changed:
        text += f" {_('Changed')}: {', '.join(changed)}."
    return text + " " + _("Nothing was saved: check the values and save again to overwrite.")


def _short(obj: models.Model, field: models.Field[Any, Any]) -> str:
    return Truncator(str(field.value_from_object(obj))).chars(40)


def _from_audit(
    current: models.Model, seen: int | None
) -> tuple[str, datetime | None, list[str] | None]:
    """Actor, time and changed columns of the audited writes that moved past ``seen``."""
    if not is_audited(current):
        return "", None, None
    from ..models.audit import AuditLog

    newer = [
        entry
        for entry in AuditLog.objects.for_object(current)[:AUDIT_LOOKBACK]
        if (entry.changes or {}).get(VERSION, [0, 0])[1] > (seen or 0)
    ]
    if not newer:
        return "", None, []
    columns = sorted({column for entry in newer for column in (entry.changes or {})})
    actors = list(dict.fromkeys(entry.actor_repr or _("someone") for entry in reversed(newer)))
    return ", ".join(actors), newer[0].timestamp, columns


def version_field() -> forms.IntegerField:
    return forms.IntegerField(widget=forms.HiddenInput, required=False)


def versioned_form(form: type[_FormT]) -> type[_FormT]:
    """``form`` with the mixin and the version declared (so admin fieldsets may name it)."""
    if issubclass(form, VersionedFormMixin):
        return form
    versioned = type(
        f"Versioned{form.__name__}", (VersionedFormMixin, form), {FIELD: version_field()}
    )
    return cast("type[_FormT]", versioned)  # a subclass of form


class VersionedAdminMixin(_ModelAdminOf[_VersionedT]):
    """For ModelAdmins of versioned models (change form and ``list_editable``)."""

    def get_form(
        self,
        request: HttpRequest,
        obj: _VersionedT | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[_VersionedT]]:
        kwargs["form"] = versioned_form(kwargs.get("form", self.form))
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(
        self,
        request: HttpRequest,
        obj: _VersionedT,
        form: forms.ModelForm[_VersionedT],
        change: bool,
    ) -> None:
        """An unchanged form (say, only an inline row was edited) writes nothing, so it
        neither moves the version under another editor nor leaves an empty audit entry."""
        if change and not form.has_changed():
            return
        super().save_model(request, obj, form, change)

    def get_fieldsets(self, request: HttpRequest, obj: _VersionedT | None = None) -> _FieldsetSpec:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or any(FIELD in flatten(o["fields"]) for _n, o in fieldsets):
            return fieldsets
        (name, options), *rest = fieldsets
        return [(name, {**options, "fields": [*options["fields"], FIELD]}), *rest]

    def get_changelist_form(
        self, request: HttpRequest, **kwargs: Any
    ) -> type[forms.ModelForm[_VersionedT]]:
        base = versioned_form(super().get_changelist_form(request, **kwargs))
        # The changelist shows errors next to editable cells only.
        form = type(base.__name__, (base,), {"conflict_field": self.list_editable[0]})
        return cast("type[forms.ModelForm[_VersionedT]]", form)  # a subclass of base

    def get_changelist_formset(
        self, request: HttpRequest, **kwargs: Any
    ) -> type[forms.BaseModelFormSet[_VersionedT, forms.ModelForm[_VersionedT]]]:
        return versioned_formset(super().get_changelist_formset(request, **kwargs))


class VersionedInlineMixin(_InlineOf[_VersionedT, _ParentT]):
    """For inlines of versioned models: each row carries and checks its version."""

    def get_formset(
        self, request: HttpRequest, obj: _ParentT | None = None, **kwargs: Any
    ) -> type[forms.BaseInlineFormSet[_VersionedT, _ParentT, forms.ModelForm[_VersionedT]]]:
        kwargs["form"] = versioned_form(kwargs.get("form", self.form))
        return versioned_formset(super().get_formset(request, obj, **kwargs))


def versioned_formset(formset: type[_FormSetT]) -> type[_FormSetT]:
    """The formset whose rows render their version beside their primary key (the pk
    field is added by the formset, after the form's own ``__init__``)."""

    def _construct_form(self: _FormSetT, i: int, **kwargs: Any) -> forms.BaseForm:
        # django-stubs lacks BaseFormSet._construct_form (Django's hook since 1.x).
        construct = formset._construct_form  # type: ignore[attr-defined]
        form: VersionedFormMixin[Any] = construct(self, i, **kwargs)
        form.embed_version_in_pk()
        return form

    versioned = type(formset.__name__, (formset,), {"_construct_form": _construct_form})
    return cast("type[_FormSetT]", versioned)  # a subclass of formset


class VersionedAdmin(VersionedAdminMixin[_VersionedT], admin.ModelAdmin):
    """A ModelAdmin for versioned models; combine ``VersionedAdminMixin`` with others."""
