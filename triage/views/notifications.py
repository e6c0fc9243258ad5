"""Settings → Notifications (channels and rules; "Send a test message") and its delivery log
("Redeliver"). Team admins only: the channels' addresses are the team's secrets."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.urls import path

from triage.forms.ids import posted_pk_or_404
from triage.forms.notifications import ChannelForm, NotificationRuleForm
from triage.permissions import team_view
from triage.selectors import notifications as selectors
from triage.selectors import ownership as ownership_selectors
from triage.services import notifications as services
from triage.services.errors import ServiceError
from triage.views.htmx import redirect_after_post, render_page
from triage.views.settings_actions import settings_post, settings_render

TEMPLATE = "triage/settings/notifications.html"
LOG_TEMPLATE = "triage/settings/notification_log.html"
DELIVERIES_PER_PAGE = 50
FORM_OF_ACTION = {"channel_create": "channel_form", "rule_create": "rule_form"}


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
            repositories=selectors.rule_repository_choices(team=team),
            owners=ownership_selectors.owner_choices(team=team),
        ),
    }
    if request.method == "POST":
        response = settings_post(
            request,
            action=action,
            forms=forms,
            form_of_action=FORM_OF_ACTION,
            run=_action,
            page="settings-notifications",
        )
        if response is not None:
            return response
    shown = {
        "channels": selectors.team_channels(team=team),
        "failing": selectors.failing_channels(team=team),
        "rules": selectors.team_rules_shown(team=team),
    }
    return settings_render(request, TEMPLATE, forms, shown)


def _action(request, action: str | None, forms: dict) -> str:
    """Channel and rule actions: the message of success, or "" to show the form's errors."""
    form = forms.get(FORM_OF_ACTION.get(action or "", ""))
    if form is not None and not form.is_valid():
        return ""
    team, actor = request.team, request.user
    if action == "channel_create":
        channel = services.channel_create(team=team, actor=actor, **form.cleaned_data)
        return f"Channel “{channel.name}” added. Send it a test message to check it."
    if action == "channel_delete":
        channel = services.channel_delete(
            team=team, actor=actor, channel_id=posted_pk_or_404(request, "channel")
        )
        return f"Channel “{channel.name}” deleted."
    if action == "channel_test":
        result = services.channel_test(
            team=team, actor=actor, channel_id=posted_pk_or_404(request, "channel")
        )
        if not result.ok:
            raise ServiceError(f"The test message was not delivered: {result.summary}")
        if result.status_code is None:
            return f"Test message delivered. {result.summary}"
        return f"Test message delivered. The receiver answered {result.summary}"
    if action == "rule_create":
        rule = services.rule_create(team=team, actor=actor, **form.service_values())
        return f"Rule added: {rule}."
    if action == "rule_delete":
        services.rule_delete(team=team, actor=actor, rule_id=posted_pk_or_404(request, "rule"))
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
                team=team, actor=request.user, delivery_id=posted_pk_or_404(request, "delivery")
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
