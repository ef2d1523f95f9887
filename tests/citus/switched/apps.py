from django.apps import AppConfig


class SwitchedConfig(AppConfig):
    name = "tests.citus.switched"
    label = "citus_switched"
    default_auto_field = "django.db.models.BigAutoField"
