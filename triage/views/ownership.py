"""Settings → Ownership (squads, their members, the rules, CODEOWNERS import, the progress of
applying the rules) and assigning one finding from its page."""

from django.contrib import messages
from django.http import Http404
from django.urls import path, reverse

from triage.forms.ids import pk_of, posted_pk_or_404
from triage.forms.ownership import (
    AssignForm,
    CodeownersImportForm,
    RuleForm,
    SquadForm,
    SquadMemberForm,
)
from triage.models import Role
from triage.permissions import can, team_view
from triage.selectors import findings as finding_selectors
from triage.selectors import ownership as selectors
from triage.services import ownership as services
from triage.services.errors import ServiceError
from triage.views.htmx import (
    Event,
    page_instead,
    redirect_after_post,
    render_fragment,
    send_events,
)
from triage.views.settings_actions import settings_post, settings_render

TEMPLATE = "triage/settings/ownership.html"
FORM_OF_ACTION = {"squad_create": "squad_form", "rule_create": "rule_form", "import": "import_form"}


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def ownership(request):
    """The team's squads and rules; admins change them with the named POST actions."""
    team = request.team
    action = request.POST.get("action") if request.method == "POST" else None
    repositories = selectors.repository_choices(team=team)
    forms = {
        "squad_form": SquadForm(request.POST if action == "squad_create" else None),
        "rule_form": RuleForm(
            request.POST if action == "rule_create" else None,
            repositories=repositories,
            owners=selectors.owner_choices(team=team),
        ),
        "import_form": CodeownersImportForm(
            request.POST if action == "import" else None, repositories=repositories
        ),
    }
    import_errors = []
    if request.method == "POST":
        try:
            response = settings_post(
                request,
                action=action,
                forms=forms,
                form_of_action=FORM_OF_ACTION,
                run=_ownership_action,
                page="settings-ownership",
                passes=(services.CodeownersInvalid,),
            )
        except services.CodeownersInvalid as exc:
            import_errors = exc.errors
            forms["import_form"].add_error(None, exc.message)
        else:
            if response is not None:
                return response
    return settings_render(
        request,
        TEMPLATE,
        forms,
        {
            "import_errors": import_errors,
            "squads": selectors.team_squads(team=team),
            "rules": selectors.team_rules(team=team),
            "member_choices": selectors.member_choices(team=team),
            "evaluation": selectors.latest_evaluation(team=team),
            "can_admin": can(request, Role.ADMIN),
        },
    )


def _ownership_action(request, action: str | None, forms: dict) -> str:
    """Do the action; answer what to tell the user, or "" when a form shows its errors."""
    team, actor = request.team, request.user
    if action == "squad_create":
        form = forms["squad_form"]
        if not form.is_valid():
            return ""
        squad = services.squad_create(team=team, actor=actor, name=form.cleaned_data["name"])
        return f"Squad @{squad.name} created."
    if action == "squad_delete":
        squad = services.squad_delete(
            team=team, actor=actor, squad_id=posted_pk_or_404(request, "squad")
        )
        return f"Squad @{squad.name} deleted."
    if action in {"squad_member_add", "squad_member_remove"}:
        return _squad_member_action(request, action)
    if action == "rule_create":
        form = forms["rule_form"]
        if not form.is_valid():
            return ""
        squad_id, membership_id = form.owner_ids()
        owner = services.rule_owner_choose(
            team=team, squad_id=squad_id, membership_id=membership_id
        )
        services.rule_create(
            team=team,
            actor=actor,
            kind=form.cleaned_data["kind"],
            owner=owner,
            pattern=form.cleaned_data["pattern"],
            repository_name=form.cleaned_data["repository_name"],
        )
        return f"Rule added: {owner.label}. The findings' owners are being updated."
    if action == "rule_delete":
        services.rule_delete(team=team, actor=actor, rule_id=posted_pk_or_404(request, "rule"))
        return "Rule deleted. The findings' owners are being updated."
    if action == "import":
        form = forms["import_form"]
        if not form.is_valid():
            return ""
        rules = services.codeowners_import(
            team=team,
            actor=actor,
            text=form.cleaned_data["text"],
            repository_name=form.cleaned_data["repository_name"],
            replace=form.cleaned_data["replace"],
        )
        return f"{len(rules)} rule{'s' if len(rules) != 1 else ''} imported from CODEOWNERS."
    if action == "evaluate":
        services.ownership_evaluation_start(team=team, actor=actor)
        return "The rules are being applied to every finding again."
    raise ServiceError("Unknown action.")


def _squad_member_action(request, action: str) -> str:
    team = request.team
    squad_id = posted_pk_or_404(request, "squad")
    if action == "squad_member_remove":
        membership = services.squad_member_remove(
            team=team,
            actor=request.user,
            squad_id=squad_id,
            membership_id=posted_pk_or_404(request, "membership"),
        )
        return f"{membership.user.get_username()} left the squad."
    form = SquadMemberForm(request.POST, members=selectors.member_choices(team=team))
    if not form.is_valid():
        raise ServiceError("Choose a member of the team.")
    membership = services.squad_member_add(
        team=team,
        actor=request.user,
        squad_id=squad_id,
        membership_id=int(form.cleaned_data["membership"]),
    )
    return f"{membership.user.get_username()} joined the squad."


@team_view(read=Role.VIEWER)
def ownership_progress(request):
    """The progress of applying the rules (htmx polls it while a pass runs; 286 after)."""
    if not request.htmx:
        return page_instead(request, "settings-ownership")
    evaluation = selectors.latest_evaluation(team=request.team)
    return render_fragment(
        request,
        TEMPLATE,
        "ownership-progress",
        {"evaluation": evaluation},
        stop_polling=evaluation is None or not evaluation.is_active,
    )


@team_view(read=Role.VIEWER, write=services.ASSIGN_ROLE)
def finding_owner(request, finding_id: int):
    """Assign the finding (POST ``action``: assign, claim, unassign); GET shows its page."""
    found = finding_selectors.finding_detail(team=request.team, finding_id=finding_id)
    if found is None:
        raise Http404("No such finding")
    if request.method != "POST":
        return page_instead(request, "finding", finding_id=found.pk)
    action = request.POST.get("action")
    try:
        if action == "unassign":
            services.finding_unassign(team=request.team, actor=request.user, finding=found)
            messages.success(request, "Unassigned: the ownership rules decide its owner again.")
        else:
            assignee_id = request.user.pk if action == "claim" else _assignee_id(request)
            changed = services.finding_assign(
                team=request.team, actor=request.user, finding=found, assignee_id=assignee_id
            )
            name = changed.owner_member.get_username()
            messages.success(
                request, "Assigned to you." if action == "claim" else f"Assigned to {name}."
            )
    except ServiceError as exc:
        messages.error(request, exc.message)
    url = reverse("finding", kwargs={"team_slug": request.team.slug, "finding_id": found.pk})
    response = redirect_after_post(request, f"{url}#owner")
    return send_events(response, Event.FINDINGS_CHANGED) if request.htmx else response


def _assignee_id(request) -> int:
    form = AssignForm(request.POST)
    if not form.is_valid():
        raise ServiceError("Choose whom to assign the finding to.")
    try:
        return pk_of(form.cleaned_data["assignee"])
    except (TypeError, ValueError):
        raise ServiceError("Choose whom to assign the finding to.") from None


urlpatterns = [
    path("settings/ownership/", ownership, name="settings-ownership"),
    path("settings/ownership/progress/", ownership_progress, name="settings-ownership-progress"),
    path("findings/<int:finding_id>/owner/", finding_owner, name="finding-owner"),
]
