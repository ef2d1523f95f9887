from django.apps import AppConfig


class IntTenantsConfig(AppConfig):
    name = "tests.inttenants"
    label = "inttenants"
    default_auto_field = "django.db.models.BigAutoField"
