from django.contrib import messages
from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters

from triage.filters.audit import AuditEventFilter
from triage.forms.ids import pk_of
from triage.forms.settings import (
    ConnectionForm,
    InvitationForm,
    MemberForm,
    MemberRoleForm,
    TeamApprovalPolicyForm,
    TeamSignInPolicyForm,
    TeamSlaForm,
)
from triage.models import GroupRoleMapping, KolegaConnection, Membership, Role
from triage.permissions import can, team_view
from triage.reports.exports import csv_response
from triage.selectors import audit as audit_selectors
from triage.selectors import invitations as invitation_selectors
from triage.selectors import reports as report_selectors
from triage.services import audit as audit_services
from triage.services import connections as connection_services
from triage.services import four_eyes
from triage.services import invitations as invitation_services
from triage.services import reports as report_services
from triage.services import teams as team_services
from triage.services.errors import ServiceError
from triage.views.htmx import redirect_after_post, render_page
from triage.views.list_filters import ignored_filters, list_context


@team_view(read=Role.VIEWER, write=Role.ADMIN)
@sensitive_post_parameters("api_key")
def connections(request):
    """Connections of the team; admins add one with the form on the same page."""
    team = request.team
    form = ConnectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = connection_services.connection_create(
                team=team, actor=request.user, **form.cleaned_data
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                f"Connected to {connection.organization_name} with key {connection.key_prefix}…",
            )
            return redirect("settings-connections", team_slug=team.slug)
    return render(
        request,
        "triage/settings/connections.html",
        {
            "connections": KolegaConnection.objects.filter(team=team),
            "form": form,
            "can_admin": can(request, Role.ADMIN),
        },
        status=400 if form.errors else 200,
    )


CONNECTION_ACTIONS = {"verify", "disable", "enable", "delete"}


@team_view(read=Role.ADMIN, write=Role.ADMIN)
def connection_action(request, connection_id: int):
    connection = get_object_or_404(KolegaConnection, team=request.team, pk=connection_id)
    if request.method != "POST":
        return redirect("settings-connections", team_slug=request.team.slug)
    action = request.POST.get("action")
    if action not in CONNECTION_ACTIONS:
        messages.error(request, "Unknown action.")
        return redirect("settings-connections", team_slug=request.team.slug)
    try:
        if action == "verify":
            connection_services.connection_verify(connection=connection, actor=request.user)
            messages.success(request, f"{connection.name}: Kolega accepted the key.")
        elif action in {"disable", "enable"}:
            connection_services.connection_state_set(
                connection=connection, actor=request.user, enabled=action == "enable"
            )
            messages.success(request, f"{connection.name} {action}d.")
        else:
            name = connection.name
            connection_services.connection_delete(connection=connection, actor=request.user)
            messages.success(request, f"{name} deleted.")
    except ServiceError as exc:
        messages.error(request, f"{connection.name}: {exc.message}")
    return redirect_after_post(request, "settings-connections", team_slug=request.team.slug)


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def members(request):
    """The team's members and invitations; admins add, invite, change and remove here."""
    team = request.team
    action = request.POST.get("action", "add") if request.method == "POST" else None
    form = MemberForm(request.POST if action == "add" else None)
    invite_form = InvitationForm(request.POST if action == "invite" else None)
    answer = None
    if action == "add":
        answer = _form_write(request, form, _member_add)
    elif action == "invite":
        answer = _form_write(request, invite_form, _invitation_create)
    elif action in ROW_ACTIONS:
        answer = _row_write(request, ROW_ACTIONS[action])
    elif action is not None:
        messages.error(request, "Unknown action.")
    if answer is not None:
        return answer
    can_admin = can(request, Role.ADMIN)
    return render(
        request,
        "triage/settings/members.html",
        {
            "memberships": Membership.objects.filter(team=team).select_related("user"),
            "form": form,
            "invite_form": invite_form,
            "invitations": invitation_selectors.team_invitations(team=team) if can_admin else [],
            "group_mappings": GroupRoleMapping.objects.filter(team=team).order_by("group")
            if can_admin
            else [],
            "roles": Role.choices,
            "can_admin": can_admin,
        },
        status=400 if form.errors or invite_form.errors else 200,
    )


def _form_write(request, form, write) -> HttpResponse | None:
    """Add a member or invite one with a form of the page: ``write`` calls the service with
    the cleaned form and says what it did. None when the page must show the form again with
    its errors (its own, or a field the service refused)."""
    if not form.is_valid():
        return None
    try:
        done = write(request, form.cleaned_data)
    except ServiceError as exc:
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return None
        messages.error(request, exc.message)
        return redirect_after_post(request, "settings-members", team_slug=request.team.slug)
    messages.success(request, done)
    return redirect("settings-members", team_slug=request.team.slug)


def _row_write(request, write) -> HttpResponse:
    """A change to one member or invitation of the lists: ``write`` says what it did, or its
    service says why it refused."""
    try:
        messages.success(request, write(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect_after_post(request, "settings-members", team_slug=request.team.slug)


def _member_add(request, data: dict) -> str:
    team_services.member_set(
        team=request.team,
        actor=request.user,
        username=data["username"],
        role=Role(data["role"]),
    )
    return f"{data['username']} is a member."


def _invitation_create(request, data: dict) -> str:
    invitation = invitation_services.invitation_create(
        team=request.team,
        actor=request.user,
        email=data["email"],
        role=Role(data["role"]),
    )
    return f"Invitation sent to {invitation.email}."


def _membership(request) -> Membership:
    return get_object_or_404(
        Membership, team=request.team, pk=_int_or_404(request.POST.get("membership"))
    )


def _member_role_set(request) -> str:
    membership = _membership(request)
    role_form = MemberRoleForm(request.POST)
    if not role_form.is_valid():
        raise ServiceError("Choose a valid role.")
    team_services.member_set(
        team=request.team,
        actor=request.user,
        username=membership.user.get_username(),
        role=Role(role_form.cleaned_data["role"]),
    )
    return "Role changed."


def _member_remove(request) -> str:
    membership = _membership(request)
    team_services.member_remove(team=request.team, actor=request.user, membership_id=membership.pk)
    return f"{membership.user.get_username()} removed."


def _invitation_revoked_or_sent_again(request) -> str:
    revoke = request.POST.get("action") == "revoke_invitation"
    change = (
        invitation_services.invitation_revoke if revoke else invitation_services.invitation_resend
    )
    invitation = change(
        team=request.team,
        actor=request.user,
        invitation_id=_int_or_404(request.POST.get("invitation")),
    )
    if revoke:
        return f"The invitation of {invitation.email} is revoked."
    return f"Invitation sent to {invitation.email} again."


# What a button of one row of the members or invitations list does.
ROW_ACTIONS = {
    "role": _member_role_set,
    "remove": _member_remove,
    "revoke_invitation": _invitation_revoked_or_sent_again,
    "resend_invitation": _invitation_revoked_or_sent_again,
}


POLICY_FORMS = {"approvals", "sla", "sign_in"}


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def policies(request):
    """The team's policies in one place: approvals before pull requests and dismissals,
    whether approving opens the pull requests, and the SLA. Members read, admins change."""
    team = request.team
    approval_policy = four_eyes.approval_policy_for(team)
    sla_policy = report_selectors.sla_policy_of(team)
    forms = {
        "approvals": TeamApprovalPolicyForm(
            initial={
                "required_approvals": approval_policy.required_approvals,
                "admins_may_self_approve": approval_policy.admins_may_self_approve,
                "dismissals_require_approval": approval_policy.dismissals_require_approval,
                "open_pull_requests_on_approval": approval_policy.open_pull_requests_on_approval,
            },
        ),
        "sla": TeamSlaForm(
            initial={f"{severity}_days": days for severity, days in sla_policy.days.items()}
        ),
        "sign_in": TeamSignInPolicyForm(initial={"require_totp": team.require_totp}),
    }
    if request.method == "POST":
        section = _policy_section(request.POST)
        if section is None:
            messages.error(request, "Unknown action.")
            return redirect("settings-policies", team_slug=team.slug)
        form = forms[section] = type(forms[section])(request.POST)
        if form.is_valid():
            try:
                if section == "approvals":
                    settings_sent = dict(form.cleaned_data)
                    if "action" not in request.POST:
                        # The old page's form has no such box: keep the setting as it is.
                        settings_sent["open_pull_requests_on_approval"] = None
                    four_eyes.approval_policy_set(team=team, actor=request.user, **settings_sent)
                    messages.success(request, "Approval policy saved.")
                elif section == "sign_in":
                    team_services.sign_in_policy_set(
                        team=team,
                        actor=request.user,
                        require_totp=form.cleaned_data["require_totp"],
                    )
                    messages.success(request, "Sign-in policy saved.")
                else:
                    report_services.sla_policy_update(
                        team=team, actor=request.user, days=form.days()
                    )
                    messages.success(request, "SLA policy saved.")
            except ServiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return redirect("settings-policies", team_slug=team.slug)
    return render(
        request,
        "triage/settings/policies.html",
        {
            "approval_form": forms["approvals"],
            "sla_form": forms["sla"],
            "sign_in_form": forms["sign_in"],
            "approval_policy": approval_policy,
            "sla_policy": sla_policy,
            "can_admin": can(request, Role.ADMIN),
        },
        status=400 if any(form.errors for form in forms.values()) else 200,
    )


def policies_redirect(request):
    """Where the old policy pages send their visitors: GET for good (301), a POST with its
    method and body kept (307)."""
    url = reverse("settings-policies", kwargs={"team_slug": request.team.slug})
    if request.method in ("GET", "HEAD"):
        return HttpResponsePermanentRedirect(url)
    response = HttpResponseRedirect(url)
    response.status_code = 307
    return response


def _policy_section(data) -> str | None:
    """Which of the page's forms was sent. A form of the old policy pages, sent before they
    moved here, has no ``action``: its fields say which it is."""
    action = data.get("action")
    if action is not None:
        return action if action in POLICY_FORMS else None
    if "critical_days" in data:
        return "sla"
    if "required_approvals" in data:
        return "approvals"
    return None


AUDIT_PAGE_SIZE = 50


@team_view(read=Role.ADMIN)
def audit_log(request):
    event_filter = _audit_filter(request)
    context = list_context(request, event_filter, per_page=AUDIT_PAGE_SIZE)
    context["entries"] = audit_selectors.audit_entries(team=request.team, events=context["page"])
    return render_page(request, "triage/settings/audit.html", context, partial="audit-table")


@team_view(read=Role.ADMIN)
def audit_export(request):
    """The filtered log as CSV, streamed; the export itself is recorded in the log."""
    event_filter = _audit_filter(request, bound=True)
    if not event_filter.is_valid():
        return render(
            request,
            "triage/settings/audit_export_error.html",
            {"ignored_filters": ignored_filters(event_filter)},
            status=400,
        )
    # The rows are read before the export's own entry is written, so it is not in the file.
    events = event_filter.qs
    events = events.filter(pk__lte=_last_id(events))
    audit_services.audit_export_record(
        team=request.team,
        actor=request.user,
        filters={name: request.GET.get(name, "") for name in event_filter.filters},
    )
    return csv_response(
        filename=audit_selectors.export_filename(request.team, timezone.localdate()),
        header=audit_selectors.EXPORT_HEADER,
        rows=audit_selectors.audit_export_rows(events),
    )


def _audit_filter(request, *, bound: bool = False) -> AuditEventFilter:
    return AuditEventFilter(
        request.GET if bound else request.GET or None,
        queryset=audit_selectors.team_audit_events(team=request.team),
    )


def _last_id(events) -> int:
    return events.order_by("-pk").values_list("pk", flat=True).first() or 0


def _int_or_404(value) -> int:
    from django.http import Http404

    try:
        return pk_of(value)
    except (TypeError, ValueError):
        raise Http404("No such member") from None
