from django.urls import path, re_path

from sandbox import control, views
from sandbox.api import read, route, unknown_path, write

app_name = "sandbox"

REPO = "api/v1/repositories/<str:repository_id>"
SCAN = f"{REPO}/scans/<str:scan_id>"
FINDING = f"{REPO}/findings/<str:finding_id>"
FIX = f"{REPO}/fixes/<str:fix_id>"

urlpatterns = [
    path("api/v1/me", route(GET=read(views.me)), name="me"),
    path("api/v1/quotas/balance", route(GET=read(views.quotas_balance)), name="quota-balance"),
    path("api/v1/repositories", route(GET=read(views.repositories_list)), name="repositories"),
    path("api/v1/finding-events", route(GET=read(views.finding_events_list)), name="events"),
    path(REPO, route(GET=read(views.repository_detail)), name="repository"),
    path(
        f"{REPO}/scans",
        route(GET=read(views.scans_list), POST=write(views.scans_create)),
        name="scans",
    ),
    path(SCAN, route(GET=read(views.scan_detail)), name="scan"),
    path(f"{SCAN}/progress", route(GET=read(views.scan_progress)), name="scan-progress"),
    path(f"{SCAN}/results", route(GET=read(views.scan_results)), name="scan-results"),
    path(f"{REPO}/findings", route(GET=read(views.findings_list)), name="findings"),
    path(
        FINDING,
        route(GET=read(views.finding_detail), PATCH=write(views.finding_update)),
        name="finding",
    ),
    path(
        f"{REPO}/fixes",
        route(GET=read(views.fixes_list), POST=write(views.fixes_create)),
        name="fixes",
    ),
    path(FIX, route(GET=read(views.fix_detail)), name="fix"),
    path(f"{FIX}/diff", route(GET=read(views.fix_diff)), name="fix-diff"),
    path(f"{FIX}/progress", route(GET=read(views.fix_progress)), name="fix-progress"),
    path(f"{FIX}/refine", route(POST=write(views.fix_refine)), name="fix-refine"),
    path(f"{FIX}/cancel", route(POST=write(views.fix_cancel)), name="fix-cancel"),
    path(
        f"{FIX}/pull-requests",
        route(POST=write(views.pull_requests_create)),
        name="fix-pull-requests",
    ),
    path("control/faults", control.faults, name="control-faults"),
    path("control/pull-requests/merge", control.merge_pull_request, name="control-merge"),
    path("control/pull-requests/close", control.close_pull_request, name="control-close"),
    path("control/clock", control.clock_move, name="control-clock"),
    re_path(r"^api/.*$", unknown_path),
]
