"""The model zoo: the shapes users write, on every base of the app.

Installed under a custom ``AppConfig.label`` ("menagerie"), as projects often do.
"""
