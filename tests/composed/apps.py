from django.apps import AppConfig


class ComposedConfig(AppConfig):
    name = "tests.composed"
    label = "composed"
    default_auto_field = "django.db.models.BigAutoField"
