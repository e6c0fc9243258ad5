from django.contrib.auth import views as auth_views
from django.urls import include, path

from triage.views import home, settings

PLACEHOLDERS = [
    (
        "",
        "dashboard",
        "Dashboard",
        "Open findings by severity per repository, active scan "
        "batches with live progress, quota meters and how fresh the mirror is.",
    ),
    (
        "scans/",
        "scans",
        "Scans",
        "Start scan batches over many repositories and watch them "
        "progress live; browse batches and their results.",
    ),
    (
        "findings/",
        "findings",
        "Findings",
        "Triage findings with filters, search, saved views, "
        "keyboard shortcuts and bulk status changes.",
    ),
    (
        "fixes/",
        "fixes",
        "Fixes",
        "AI fixes with a live heartbeat, diff review, refinement and pull requests.",
    ),
    (
        "approvals/",
        "approvals",
        "Approvals",
        "Every decision that needs a second person: pull "
        "requests and dismissals waiting for an approver.",
    ),
    (
        "reports/",
        "reports",
        "Reports",
        "Risk, trends, time to remediate, SLA, coverage and the "
        "fix funnel, with charts and CSV exports.",
    ),
]

team_patterns = [
    path(
        route,
        home.area_placeholder,
        {"area": name, "title": title, "description": description},
        name=name,
    )
    for route, name, title, description in PLACEHOLDERS
] + [
    path("settings/", settings.connections, name="settings"),
    path("settings/connections/", settings.connections, name="settings-connections"),
    path(
        "settings/connections/<int:connection_id>/",
        settings.connection_action,
        name="settings-connection",
    ),
    path("settings/members/", settings.members, name="settings-members"),
    path("settings/audit/", settings.audit_log, name="settings-audit"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "account/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("account/preferences/", home.preferences, name="preferences"),
    path("t/<slug:team_slug>/", include(team_patterns)),
]
