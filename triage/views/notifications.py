"""Settings → Notifications (channels and rules; "Send a test message") and its delivery log
("Redeliver"). Team admins only: the channels' addresses are the team's secrets."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.urls import path

from triage.forms.ids import pk_of
from triage.forms.notifications import ChannelForm, NotificationRuleForm
from triage.permissions import team_view
from triage.selectors import notifications as selectors
from triage.services import notifications as services
from triage.services.errors import ServiceError
from triage.views.htmx import redirect_after_post, render_page

TEMPLATE = "triage/settings/notifications.html"
LOG_TEMPLATE = "triage/settings/notification_log.html"
DELIVERIES_PER_PAGE = 50


def _id(request, name: str) -> int:
    try:
        return pk_of(request.POST.get(name, ""))
    except (TypeError, ValueError):
        raise Http404(f"No such {name}") from None


@team_view(read=services.MANAGE_ROLE, write=services.MANAGE_ROLE)
def notifications(request):
    """The team's channels and rules; admins change them with the named POST actions."""
    team = request.team
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {
        "channel_form": ChannelForm(request.POST if action == "channel_create" else None),
        "rule_form": NotificationRuleForm(
            request.POST if action == "rule_create" else None,
            channels=selectors.channel_choices(team=team),
        ),
    }
    if request.method == "POST":
        try:
            done = _action(request, action, forms)
        except ServiceError as exc:
            form = {"channel_create": "channel_form", "rule_create": "rule_form"}.get(action, "")
            if form and exc.field in forms[form].fields:
                forms[form].add_error(exc.field, exc.message)
            else:
                messages.error(request, exc.message)
                return redirect_after_post(request, "settings-notifications", team_slug=team.slug)
        else:
            if done:
                messages.success(request, done)
                return redirect_after_post(request, "settings-notifications", team_slug=team.slug)
    invalid = any(form.errors for form in forms.values())
    return render_page(
        request,
        TEMPLATE,
        {
            **forms,
            "channels": selectors.team_channels(team=team),
            "failing": selectors.failing_channels(team=team),
            "rules": selectors.team_rules(team=team),
        },
        status=400 if invalid else 200,
    )


def _action(request, action: str | None, forms: dict) -> str:
    """Do the action; answer what to tell the user, or "" when a form shows its errors."""
    team, actor = request.team, request.user
    if action == "channel_create":
        form = forms["channel_form"]
        if not form.is_valid():
            return ""
        channel = services.channel_create(team=team, actor=actor, **form.cleaned_data)
        return f"Channel “{channel.name}” added. Send it a test message to check it."
    if action == "channel_delete":
        channel = services.channel_delete(
            team=team, actor=actor, channel_id=_id(request, "channel")
        )
        return f"Channel “{channel.name}” deleted."
    if action == "channel_test":
        result = services.channel_test(team=team, actor=actor, channel_id=_id(request, "channel"))
        if not result.ok:
            raise ServiceError(f"The test message was not delivered: {result.summary}")
        return f"Test message delivered. The receiver answered {result.summary}"
    if action == "rule_create":
        form = forms["rule_form"]
        if not form.is_valid():
            return ""
        rule = services.rule_create(
            team=team,
            actor=actor,
            channel_id=int(form.cleaned_data["channel"]),
            event_kind=form.cleaned_data["event_kind"],
            min_severity=form.cleaned_data["min_severity"],
        )
        return f"Rule added: {rule}."
    if action == "rule_delete":
        services.rule_delete(team=team, actor=actor, rule_id=_id(request, "rule"))
        return "Rule deleted."
    raise ServiceError("Unknown action.")


@team_view(read=services.MANAGE_ROLE, write=services.MANAGE_ROLE)
def delivery_log(request):
    """Every delivery of the team's notifications, newest first; "Redeliver" sends one again."""
    team = request.team
    if request.method == "POST":
        try:
            if request.POST.get("action") != "redeliver":
                raise ServiceError("Unknown action.")
            services.delivery_redeliver(
                team=team, actor=request.user, delivery_id=_id(request, "delivery")
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "The message is being sent again.")
        return redirect_after_post(request, "settings-notification-log", team_slug=team.slug)
    page = Paginator(selectors.team_deliveries(team=team), DELIVERIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render_page(
        request,
        LOG_TEMPLATE,
        {"page": page, "failing": selectors.failing_channels(team=team)},
        partial="deliveries",
    )


urlpatterns = [
    path("settings/notifications/", notifications, name="settings-notifications"),
    path("settings/notifications/log/", delivery_log, name="settings-notification-log"),
]
