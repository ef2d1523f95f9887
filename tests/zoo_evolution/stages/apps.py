"""The small tenant app's AppConfig (copied to ``zooevo/apps.py`` by the test)."""

from django.apps import AppConfig


class ZooEvoConfig(AppConfig):
    name = "zooevo"
    default_auto_field = "django.db.models.BigAutoField"
