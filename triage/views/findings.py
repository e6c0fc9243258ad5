from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "findings",
            "title": "Findings",
            "description": (
                "Triage findings with filters, search, saved views, keyboard shortcuts "
                "and bulk status changes."
            ),
        },
        name="findings",
    ),
]
