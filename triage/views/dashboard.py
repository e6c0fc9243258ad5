from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "dashboard",
            "title": "Dashboard",
            "description": (
                "Open findings by severity per repository, active scan batches with "
                "live progress, quota meters and how fresh the mirror is."
            ),
        },
        name="dashboard",
    ),
]
