"""No views: the child processes of tests/test_zoo_migrations.py only migrate."""

urlpatterns = []
