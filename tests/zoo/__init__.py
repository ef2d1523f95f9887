"""The model zoo: the shapes users write, on every base of the app.

Installed under a custom ``AppConfig.label`` ("menagerie"), as projects often do. Its
migrations are written with ``--settings=tests.settings_bare`` (no
``PRODPATTERNS_TENANT_MODEL``), so that they load in that run too: a reference to the
default tenant model is then the plain "prodpatterns.tenant".
"""
