"""Staff acting for a tenant (issue 15): ``TenantAccess``, audited, and the permission
``prodpatterns.act_for_tenant``. Only ``view`` of the default permissions: rows are written
by choosing and leaving a tenant in the admin, never through add, change or delete.

No foreign key to the user or the tenant model, so this migration depends on neither.
"""

from django.db import migrations, models

import django_prodpatterns.db.audit


class Migration(migrations.Migration):
    dependencies = [
        ("prodpatterns", "0009_audit_backfill"),
    ]

    operations = [
        migrations.CreateModel(
            name="TenantAccess",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_key", models.CharField(db_index=True, max_length=255, verbose_name="user")),
                (
                    "user_repr",
                    models.CharField(max_length=255, verbose_name="user (as shown then)"),
                ),
                ("tenant_key", models.CharField(max_length=255, verbose_name="tenant")),
                (
                    "tenant_repr",
                    models.CharField(max_length=255, verbose_name="tenant (as shown then)"),
                ),
                ("reason", models.TextField(verbose_name="reason")),
                ("started_at", models.DateTimeField(verbose_name="started at")),
                (
                    "ended_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="ended at"),
                ),
            ],
            options={
                "verbose_name": "staff access to a tenant",
                "verbose_name_plural": "staff access to tenants",
                "permissions": [("act_for_tenant", "Can act for any tenant")],
                "default_permissions": ("view",),
                "constraints": [
                    django_prodpatterns.db.audit.AuditTriggers(
                        ignore=[],
                        label="prodpatterns.TenantAccess",
                        name="prodpatterns_tenantaccess_audit",
                        pk="id",
                        redact=[],
                        tenant="",
                    )
                ],
            },
        ),
    ]
