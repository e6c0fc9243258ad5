from django.contrib.auth import views as auth_views
from django.urls import include, path

from triage.forms.sign_in import LocalPasswordResetForm, PortalAuthenticationForm
from triage.views import (
    approvals,
    campaigns,
    dashboard,
    email_preferences,
    finding,
    finding_groups,
    findings,
    fixes,
    home,
    invitations,
    notifications,
    ownership,
    pull_requests,
    reports,
    repositories,
    scans,
    settings,
    sso,
    sync,
    two_factor,
)

# Each area's view module owns its URL patterns; all are mounted under /t/<team-slug>/.
AREA_PATTERNS = [
    ("", dashboard.urlpatterns),
    ("scans/", scans.urlpatterns),
    ("findings/", findings.urlpatterns),
    ("findings/", finding.urlpatterns),
    ("findings/", finding_groups.urlpatterns),
    ("queue/", findings.queue_urlpatterns),
    ("fixes/", fixes.urlpatterns),
    ("approvals/", approvals.urlpatterns),
    ("campaigns/", campaigns.urlpatterns),
    ("reports/", reports.urlpatterns),
    ("repositories/", repositories.urlpatterns),
    ("pull-requests/", pull_requests.urlpatterns),
    ("", ownership.urlpatterns),
    ("", notifications.urlpatterns),
]

team_patterns = [
    *(path(prefix, include(patterns)) for prefix, patterns in AREA_PATTERNS),
    path("settings/", settings.connections, name="settings"),
    path("settings/connections/", settings.connections, name="settings-connections"),
    path(
        "settings/connections/<int:connection_id>/",
        settings.connection_action,
        name="settings-connection",
    ),
    path("settings/members/", settings.members, name="settings-members"),
    path("settings/policies/", settings.policies, name="settings-policies"),
    path("settings/audit/", settings.audit_log, name="settings-audit"),
    path("settings/audit/export.csv", settings.audit_export, name="settings-audit-export"),
    path("settings/sync/", sync.sync_status, name="settings-sync"),
    path("settings/sync/<int:run_id>/", sync.sync_run_detail, name="settings-sync-run"),
]

# Django's own password change and reset pages: (route, view, URL name).
PASSWORD_VIEWS = [
    ("account/password/", auth_views.PasswordChangeView.as_view(), "password_change"),
    ("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), "password_change_done"),
    (
        "account/password/reset/",
        auth_views.PasswordResetView.as_view(form_class=LocalPasswordResetForm),
        "password_reset",
    ),
    (
        "account/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        "password_reset_done",
    ),
    (
        "account/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        "password_reset_confirm",
    ),
    (
        "account/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        "password_reset_complete",
    ),
]

urlpatterns = [
    path("", home.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=PortalAuthenticationForm
        ),
        name="login",
    ),
    path("logout/", sso.sign_out, name="logout"),
    path("", include(sso.urlpatterns)),
    *(path(route, view, name=name) for route, view, name in PASSWORD_VIEWS),
    path("account/preferences/", home.preferences, name="preferences"),
    path("", include(email_preferences.urlpatterns)),
    path("account/two-factor/", two_factor.enrolment, name="two-factor"),
    path("login/code/", two_factor.second_step, name="second-step"),
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("t/<slug:team_slug>/", include(team_patterns)),
]
