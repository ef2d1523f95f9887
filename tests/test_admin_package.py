"""The admin is one package, ``django_prodpatterns.admin``, one module per concern.

Its public names are the ones the old ``admin.py`` exported; the old modules
``admin_audit``, ``admin_locking`` and ``admin_tenancy`` still import, with a
DeprecationWarning, and give the very same objects; the app's own models are registered on
``admin.site`` once, as before, and nothing below the admin imports it.
"""

import ast
import sys
from pathlib import Path

import pytest
from django.contrib import admin

import django_prodpatterns
import django_prodpatterns.admin as package
from django_prodpatterns.admin import audit, locking, softdelete, tenancy
from django_prodpatterns.models import AuditLog, Tenant, TenantAccess
from django_prodpatterns.models.tenancy import get_tenant_model

PACKAGE = Path(django_prodpatterns.__file__).resolve().parent
SHIMS = {  # old module: (its new home, a private helper it had)
    "django_prodpatterns.admin_audit": (audit, "_show"),
    "django_prodpatterns.admin_locking": (locking, "_short"),
    "django_prodpatterns.admin_tenancy": (tenancy, "_url"),
}


@pytest.fixture
def forget():
    """Drops a module from ``sys.modules`` so that the next import runs it again; puts the
    old entry (and the package attribute) back afterwards."""
    saved = {}

    def forget(name):
        parent, _, attr = name.rpartition(".")
        saved.setdefault(
            name, (sys.modules.pop(name, None), getattr(sys.modules[parent], attr, None))
        )

    yield forget
    for name, (module, attribute) in saved.items():
        parent, _, attr = name.rpartition(".")
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
        if attribute is None:
            sys.modules[parent].__dict__.pop(attr, None)
        else:
            setattr(sys.modules[parent], attr, attribute)


def test_the_package_exports_what_admin_py_exported():
    assert sorted(package.__all__) == [
        "AuditHistoryMixin",
        "AuditLogAdmin",
        "DeletedStateFilter",
        "SoftDeleteAdmin",
        "SoftDeleteAdminMixin",
        "TenantAccessAdmin",
        "TenantAdmin",
        "VersionedAdmin",
        "VersionedAdminMixin",
        "VersionedFormMixin",
        "VersionedInlineMixin",
    ]
    modules = (audit, locking, softdelete, tenancy)
    for name in package.__all__:
        (home,) = [m for m in modules if name in m.__all__]
        assert getattr(package, name) is getattr(home, name)


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_an_old_module_warns_and_gives_the_same_objects(old, forget):
    new, private = SHIMS[old]
    registered = dict(admin.site._registry)
    forget(old)
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated.*{new.__name__}") as w:
        __import__(old)
    (warning,) = [r for r in w if issubclass(r.category, DeprecationWarning)]
    shim = sys.modules[old]
    # Points past the shim, at whoever imported it (here, or an import hook in between:
    # pytest rewrites an installed plugin's modules through its own loader).
    assert warning.filename != shim.__file__
    assert shim.__all__ == new.__all__
    for name in new.__all__:
        assert getattr(shim, name) is getattr(new, name), name
    # Private and imported names are forwarded too; unknown ones fail as usual.
    assert getattr(shim, private) is getattr(new, private)
    assert shim.admin is admin  # django.contrib.admin, as the old module imported it
    with pytest.raises(AttributeError, match=rf"'{old}' has no attribute 'missing'"):
        shim.missing  # noqa: B018
    # Importing a shim registers nothing (a second registration would have raised).
    assert admin.site._registry == registered


def test_the_apps_models_are_registered_once_as_before():
    expected = {AuditLog: audit.AuditLogAdmin, TenantAccess: tenancy.TenantAccessAdmin}
    if get_tenant_model() is Tenant:
        expected[Tenant] = tenancy.TenantAdmin
    registered = {
        model: type(model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "prodpatterns"
    }
    assert registered == expected


def top_level_imports(path):
    """The modules a file imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # what "." means in this file (a package's __init__ included)
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(package[: len(package) - node.level + 1])
            if node.module:
                yield f"{base}.{node.module}"
            else:  # from . import admin
                yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module


def test_nothing_below_the_admin_imports_it():
    """Layers point one way: the admin imports models, querysets, context...; none of those
    imports the admin (the middleware's admin pages and ``apps.ready`` import it lazily)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "admin" or relative.name.startswith("admin_"):
            continue
        for module in top_level_imports(path):
            if module.split(".")[:2] == ["django_prodpatterns", "admin"]:
                offenders.append(f"{relative}: {module}")
    assert offenders == []
