from django.apps import AppConfig


class UUIDTenantsConfig(AppConfig):
    name = "tests.uuidtenants"
    label = "uuidtenants"
    default_auto_field = "django.db.models.BigAutoField"
