from django.contrib import admin
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("projects/", views.projects),
    path("logged/", views.logged),
    path("alogged/", views.alogged),
    path("aprojects/", views.aprojects),
    path("needs-tenant/", views.needs_tenant),
    path("audit/touch/", views.touch_document),
    path("audit/atouch/", views.atouch_document),
    path("counter/<int:pk>/", views.counter),
    path("projects/<int:pk>/rename/", views.project_rename),
    path("entries/", views.entries),
    path("api/", include("tests.testapp.api_urls")),
]
