from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "scans",
            "title": "Scans",
            "description": (
                "Start scan batches over many repositories and watch them progress "
                "live; browse batches and their results."
            ),
        },
        name="scans",
    ),
]
