from django.urls import path, re_path

from sandbox import views
from sandbox.api import read, route, unknown_path

app_name = "sandbox"

API = "api/v1/"

urlpatterns = [
    path(f"{API}me", route(GET=read(views.me)), name="me"),
    path(f"{API}quotas/balance", route(GET=read(views.quotas_balance)), name="quota-balance"),
    re_path(r"^api/.*$", unknown_path),
]
