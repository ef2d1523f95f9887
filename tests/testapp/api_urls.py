"""DRF routes for tests/test_drf_integration.py (included under ``api/``)."""

from django.urls import path

from . import api

urlpatterns = [
    path("invoices/", api.InvoiceList.as_view()),
    path("invoices/<int:pk>/", api.InvoiceDetail.as_view()),
    path("strict-invoices/<int:pk>/", api.StrictInvoiceDetail.as_view()),
]
