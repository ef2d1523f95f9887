from django.apps import AppConfig


class ZooConfig(AppConfig):
    name = "tests.zoo"
    label = "menagerie"  # not the module's name: labels users choose must work
    default_auto_field = "django.db.models.BigAutoField"
