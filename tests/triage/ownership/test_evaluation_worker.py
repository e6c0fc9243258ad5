"""Applying the rules again after they change, run by the real Celery worker."""

import time

from tests.factories import FindingFactory, MembershipFactory, RepositoryFactory, UserFactory
from triage.models import Finding, OwnershipEvaluation, Role
from triage.services import ownership as services


def test_the_worker_applies_changed_rules_to_every_finding(team, celery_worker_process):
    admin = MembershipFactory(team=team, role=Role.ADMIN, user=UserFactory(username="ada")).user
    repository = RepositoryFactory(team=team, name="shop")
    findings = [
        FindingFactory(repository=repository, file_path=f"{folder}/file_{n}.py")
        for folder in ("api", "web")
        for n in range(30)
    ]
    services.squad_create(team=team, actor=admin, name="api-squad")

    services.codeowners_import(team=team, actor=admin, text="/api/ @api-squad\n")

    deadline = time.monotonic() + 60
    evaluation = OwnershipEvaluation.objects.get(team=team)
    while time.monotonic() < deadline and evaluation.state != OwnershipEvaluation.State.FINISHED:
        time.sleep(0.5)
        evaluation.refresh_from_db()
    assert (evaluation.state, evaluation.total, evaluation.changed) == ("finished", 60, 30)
    owned = Finding.objects.filter(pk__in=[f.pk for f in findings], owner_squad__name="api-squad")
    assert sorted(owned.values_list("file_path", flat=True)) == sorted(
        f.file_path for f in findings if f.file_path.startswith("api/")
    )
