from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tests.citus.tenants"
    label = "citus_tenants"
    default_auto_field = "django.db.models.BigAutoField"
