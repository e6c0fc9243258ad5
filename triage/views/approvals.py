from django.urls import path

from triage.views.home import area_placeholder

urlpatterns = [
    path(
        "",
        area_placeholder,
        {
            "area": "approvals",
            "title": "Approvals",
            "description": (
                "Every decision that needs a second person: pull requests and "
                "dismissals waiting for an approver."
            ),
        },
        name="approvals",
    ),
]
