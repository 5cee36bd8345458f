"""URLs of the test CAS server (serve.py): django-cas-server under /cas/."""

from django.urls import include, path

urlpatterns = [path("cas/", include(("cas_server.urls", "cas_server"), namespace="cas_server"))]
