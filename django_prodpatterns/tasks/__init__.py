"""Background tasks that carry the request's context (tenant, actor, audit details).

One module per task system, each imported only by projects that use it, so the app works
without any of them installed: :mod:`django_prodpatterns.tasks.celery` for Celery.
Django's own ``django.tasks`` is planned.
"""
