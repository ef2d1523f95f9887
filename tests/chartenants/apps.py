from django.apps import AppConfig


class CharTenantsConfig(AppConfig):
    name = "tests.chartenants"
    label = "chartenants"
    default_auto_field = "django.db.models.BigAutoField"
