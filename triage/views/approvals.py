"""The approvals inbox: requests waiting for a second person, their decisions, the policy."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.cache import patch_vary_headers

from triage.forms.fixes import ApprovalPolicyForm, DecisionForm
from triage.models import FixApproval, Role
from triage.permissions import can, team_view
from triage.selectors import fixes as selectors
from triage.services import approvals as approval_services
from triage.services.errors import ServiceError

STATUS_TABS = (
    ("pending", "Waiting"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("voided", "Voided"),
)


@team_view(read=Role.VIEWER, write=Role.APPROVER)
def approvals(request):
    status = request.GET.get("status", "pending")
    if status not in FixApproval.Status.values:
        status = "pending"
    queue = list(selectors.approvals_queue(team=request.team, status=status)[:200])
    response = render(
        request,
        "triage/approvals/list.html",
        {
            "approvals": queue,
            "status": status,
            "tabs": STATUS_TABS,
            "can_approve": can(request, Role.APPROVER),
            "data_as_of": selectors.data_as_of(request.team),
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@team_view(read=Role.APPROVER, write=Role.APPROVER)
def approval_decide(request, approval_id: int):
    approval = (
        FixApproval.objects.filter(team=request.team, pk=approval_id).select_related("fix").first()
    )
    if approval is None:
        raise Http404("No such approval request")
    if request.method != "POST":
        return redirect("fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose approve or reject.")
        return redirect("fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        decided = approval_services.approval_decide(
            approval=approval,
            actor=request.user,
            approve=approve,
            comment=form.cleaned_data["comment"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if decided.status == FixApproval.Status.APPROVED:
            messages.success(request, "Approved. The pull requests are being opened.")
        elif decided.status == FixApproval.Status.REJECTED:
            messages.success(request, "Rejected. The requester sees your comment.")
        else:
            messages.success(request, "Your approval is recorded; another approver is needed.")
    return redirect("fixes-detail", team_slug=request.team.slug, fix_id=approval.fix_id)


@team_view(read=Role.ADMIN, write=Role.ADMIN)
def approval_policy(request):
    policy = approval_services.approval_policy_for(request.team)
    form = ApprovalPolicyForm(
        request.POST or None,
        initial={
            "required_approvals": policy.required_approvals,
            "admins_may_self_approve": policy.admins_may_self_approve,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            approval_services.approval_policy_set(
                team=request.team, actor=request.user, **form.cleaned_data
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Approval policy saved.")
            return redirect("approvals-policy", team_slug=request.team.slug)
    return render(
        request,
        "triage/approvals/policy.html",
        {"form": form, "policy": policy},
        status=400 if form.errors else 200,
    )


urlpatterns = [
    path("", approvals, name="approvals"),
    path("<int:approval_id>/decide/", approval_decide, name="approvals-decide"),
    path("policy/", approval_policy, name="approvals-policy"),
]
