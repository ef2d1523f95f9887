"""System checks: misconfiguration is reported here, with an id and a hint, never raised.

=================== ==========================================================================
``prodpatterns.E001`` The database role bypasses row-level security while the project relies on
                      it (tenant models exist, or a table has row-level security enabled).
``prodpatterns.E002`` The ``PRODPATTERNS`` setting has an unknown key or an invalid value.
``prodpatterns.E003`` A model with a pattern's database objects uses multi-table inheritance.
``prodpatterns.W003`` A model with a pattern's database objects is ``managed = False``: no
                      generated DDL.
``prodpatterns.W001`` A database is not PostgreSQL: row-level security and the audit trail are
                      unavailable there.
``prodpatterns.W002`` The database role bypasses row-level security (no tenant models yet).
``prodpatterns.E010`` A soft delete would CASCADE into a model that cannot be soft-deleted, and
                      ``SOFT_DELETE_PLAIN_CHILDREN`` does not say what to do with it.
``prodpatterns.W010`` A soft-delete model has a ``unique=True`` field: deleted rows keep the
                      value taken.
``prodpatterns.W011`` A soft-delete model has a ``OneToOneField`` (implicitly unique).
``prodpatterns.W012`` A soft-delete model has a unique constraint that ignores ``deleted_at``.
``prodpatterns.W013`` A soft-delete model's default manager shows deleted rows, or its
                      ``all_objects``/``deleted_objects`` shows the wrong rows.
``prodpatterns.E020`` A tenant table is owned by the connected role and lacks FORCE ROW LEVEL
                      SECURITY, so the owner skips its policy.
``prodpatterns.E021`` A concrete tenant model lacks its generated row-level-security DDL.
``prodpatterns.E022`` ``TenantMiddleware`` comes before ``AuthenticationMiddleware``.
``prodpatterns.E023`` ``TENANT_USER_ATTRIBUTE`` does not lead from ``AUTH_USER_MODEL`` to the
                      tenant model, so the resolver finds no tenant for any user.
``prodpatterns.W020`` A unique constraint on a tenant model does not include the tenant.
``prodpatterns.W021`` The project has tenant models but no ``TenantMiddleware``.
``prodpatterns.W022`` A manager of a tenant model is not scoped to the current tenant.
``prodpatterns.W023`` A reference between tenant models has ``db_constraint=False``: the
                      database does not keep it inside the tenant.
``prodpatterns.E040`` Citus mode: a unique constraint on a tenant model does not include the
                      tenant (W020, which Citus cannot distribute).
``prodpatterns.E041`` Citus mode: a many-to-many touches a tenant model through a table
                      without a tenant column.
``prodpatterns.E042`` Citus mode: a database foreign key between a tenant table and a
                      shared one other than the tenant model.
``prodpatterns.E044`` Citus mode: the role of a Citus database does not forward SET LOCAL to
                      the workers (every tenant query returns nothing).
``prodpatterns.E043`` Citus mode: an audited tenant model (capture on distributed tables is not
                      supported yet).
``prodpatterns.E044`` Citus mode: the role of a Citus database does not forward SET LOCAL to
                      the workers (every tenant query returns nothing).
=================== ==========================================================================

The role checks connect to the database, so like Django's own database checks they run
only when databases are named: ``manage.py check --database default``, ``migrate`` and the
test runner do; a plain ``manage.py check`` does not.
"""

from ..markers import TENANT_SCOPED_ATTRIBUTE
from .citus import check_citus_shapes
from .database import (
    check_database_roles,
    check_database_vendor,
    check_settings,
    project_has_tenant_models,
    role_messages,
)
from .managers import check_pattern_managers
from .shapes import check_model_shapes
from .softdelete import check_soft_delete_cascades, check_soft_delete_uniqueness
from .tenancy import (
    check_forced_rls,
    check_tenant_middleware,
    check_tenant_models,
    check_tenant_user_attribute,
)

__all__ = [
    "TENANT_SCOPED_ATTRIBUTE",
    "check_citus_shapes",
    "check_database_roles",
    "check_database_vendor",
    "check_forced_rls",
    "check_model_shapes",
    "check_pattern_managers",
    "check_settings",
    "check_soft_delete_cascades",
    "check_soft_delete_uniqueness",
    "check_tenant_middleware",
    "check_tenant_models",
    "check_tenant_user_attribute",
    "project_has_tenant_models",
    "role_messages",
]
