from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "fixes",
            "title": "Fixes",
            "description": (
                "AI fixes with a live heartbeat, diff review, refinement and pull requests."
            ),
        },
        name="fixes",
    ),
]
