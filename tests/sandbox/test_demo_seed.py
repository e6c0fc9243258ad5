"""The demo organization: real trees, real findings, fix diffs that git accepts."""

import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from sandbox import clock, scanning
from sandbox.materialize import detection_of
from sandbox.models import Finding, Organization, Repository, SourceRepo
from sandbox.services.trees import source_tree
from tests.sandbox.fix_requests import fix_post

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DEMO_KEY = "kcp_test_demo_seed_key_0123456789"


@pytest.fixture
def demo(make_client, settings, capsys):
    settings.SANDBOX_TIME_SCALE = 1.0
    call_command("sandbox_seed", "--key", DEMO_KEY)
    output = capsys.readouterr().out
    return make_client(DEMO_KEY), output


def test_seed_prints_base_url_org_and_key_and_is_idempotent(demo, capsys):
    api, output = demo
    assert "Base URL: http://" in output and "/sandbox" in output
    assert "Acme Corp (acme)" in output and DEMO_KEY in output
    me = api.get("/me").json()
    assert me["organization_slug"] == "acme"
    repositories = api.get("/repositories").json()
    assert repositories["total"] == 4
    full_names = {r["repositories"][0]["full_name"] for r in repositories["items"]}
    assert full_names == {
        "acme/payments-api",
        "acme/web-frontend",
        "acme/inventory-service",
        "acme/infra",
    }
    findings_before = Finding.objects.count()
    assert findings_before > 20
    call_command("sandbox_seed", "--key", DEMO_KEY)
    assert Organization.objects.filter(slug="acme").count() == 1
    assert Finding.objects.count() == findings_before
    call_command("sandbox_seed", "--reset")
    assert "API key: kcp_test_" in capsys.readouterr().out
    assert api.get("/me").status_code == 401, "reset drops the old keys"


def test_seeded_findings_point_at_real_lines(demo):
    api, _ = demo
    for finding in Finding.objects.select_related("source_repo")[:60]:
        files = source_tree(source_repo=finding.source_repo)
        assert finding.file_path in files, finding
        assert 1 <= finding.line <= len(files[finding.file_path].splitlines()), finding
        assert finding.cwe, finding
    scan_types = set(Finding.objects.values_list("scan_type", flat=True))
    assert {"secrets_scan", "semgrep_scan", "sbom_scan"} <= scan_types
    assert Finding.objects.exclude(cvss_base_score=None).exists()
    events = api.get("/finding-events", params={"limit": 200}).json()
    kinds = {e["event_type"] for e in events["items"]}
    assert "detected" in kinds


def _git_apply_check(
    files: dict[str, str], diff: str, workdir: Path
) -> subprocess.CompletedProcess:
    for path, content in files.items():
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    (workdir / "fix.diff").write_text(diff, encoding="utf-8")
    return subprocess.run(
        ["git", "apply", "--check", "fix.diff"], cwd=workdir, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "full_name", ["acme/payments-api", "acme/web-frontend", "acme/inventory-service", "acme/infra"]
)
def test_fix_diff_applies_with_git_to_the_seeded_tree(demo, tmp_path, full_name):
    api, _ = demo
    source = SourceRepo.objects.get(full_name=full_name)
    repository = Repository.objects.get(source_repos=source)
    open_findings = Finding.objects.filter(source_repo=source, status="open").order_by(
        "scan_type", "file_path", "line"
    )
    chosen = [str(f.id) for f in open_findings[:3]]
    assert chosen
    fix = fix_post(
        api,
        repository.id,
        chosen,
        title="Fix the first findings",
        instructions="Keep behaviour, remove the vulnerability",
        source_repo=full_name,
    ).json()
    clock.advance(60)
    diff = api.get(f"/repositories/{repository.id}/fixes/{fix['id']}/diff").json()
    assert diff["status"] == "completed", diff
    result = _git_apply_check(source_tree(source_repo=source), diff["diff"], tmp_path)
    assert result.returncode == 0, result.stderr + diff["diff"]


def _mechanically_fixable(source: SourceRepo) -> Finding:
    """An open semgrep finding whose generated fix really removes it (others get a TODO)."""
    files = source_tree(source_repo=source)
    candidates = Finding.objects.filter(
        source_repo=source, status="open", scan_type="semgrep_scan"
    ).order_by("file_path", "line")
    for finding in candidates:
        diff = scanning.propose_fix(files, [detection_of(finding)], instructions="fix", variant=0)
        patched = scanning.apply_diff(files, diff)
        remaining = {d.fingerprint for d in scanning.scan_tree(patched, "semgrep_scan")}
        if finding.fingerprint not in remaining:
            return finding
    raise AssertionError("the demo tree has no mechanically fixable semgrep finding")


def test_merge_then_rescan_shows_the_whole_life_of_a_finding(demo):
    api, _ = demo
    source = SourceRepo.objects.get(full_name="acme/payments-api")
    repository = Repository.objects.get(source_repos=source)
    finding = _mechanically_fixable(source)
    base = f"/repositories/{repository.id}"
    fix = fix_post(
        api,
        repository.id,
        [str(finding.id)],
        title="Fix it",
        instructions="Fix it",
        source_repo="acme/payments-api",
    ).json()
    clock.advance(60)
    pr = api.post(f"{base}/fixes/{fix['id']}/pull-requests", json={}).json()["pull_requests"][0]
    call_command("sandbox_merge_pr", pr["pr_url"])
    api.post(f"{base}/scans", json={"scan_type": "semgrep_scan"})
    clock.advance(60)
    after = api.get(f"{base}/findings/{finding.id}").json()
    assert after["status"] == "resolved"
    history = api.get("/finding-events", params={"finding_id": str(finding.id)}).json()["items"]
    kinds = [e["event_type"] for e in reversed(history)]
    assert kinds[0] == "detected"
    for expected in ("fix_created", "fix_started", "fix_completed", "fix_pr_created"):
        assert expected in kinds
    assert kinds[-1] == "resolved_pr_merged"
    assert "reopened" not in kinds


def test_the_demo_has_pull_requests_open_merged_and_closed(demo):
    from sandbox.models import PullRequest

    api, _ = demo
    statuses = sorted(PullRequest.objects.values_list("merge_status", flat=True))
    assert statuses == ["closed", "merged", "open", "open"]
    merged = PullRequest.objects.get(merge_status="merged")
    fix = api.get(f"/repositories/{merged.fix.repository_id}/fixes/{merged.fix_id}").json()
    assert fix["status"] == "completed"
