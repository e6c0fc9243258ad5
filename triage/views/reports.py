from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "reports",
            "title": "Reports",
            "description": (
                "Risk, trends, time to remediate, SLA, coverage and the fix funnel, "
                "with charts and CSV exports."
            ),
        },
        name="reports",
    ),
]
