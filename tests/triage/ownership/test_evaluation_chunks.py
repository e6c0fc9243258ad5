"""Evaluating the rules a chunk at a time: the same owners as one pass over every finding, as
the rules read one by one say, in a number of queries that grows with the chunks, not with
findings × rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import FindingFactory, RepositoryFactory
from triage.codeowners import owner_for_path, pattern_regex
from triage.models import Finding, OwnershipRule
from triage.services import ownership as services
from triage.sync import ownership as evaluation

pytestmark = pytest.mark.django_db

PATHS = [
    "src/app.py",
    "./src/api/views.py",
    "/src/api/handlers/test_login.py",
    "docs/guide/index.md",
    "web/app.js",
    "web/legacy/old.js",
    "config/prod.yml",
    "README.md",
]
CODEOWNERS = (
    "*.py @backend\n"
    "*.js @frontend\n"
    "/web/legacy/ @tess\n"
    "docs/**/*.md @frontend\n"
    "/src/api/ @frontend\n"
    "**/test_*.py\n"
)
CHUNK = 5


@pytest.fixture
def findings(team, admin, triager, squads, repository_rule):
    shop = RepositoryFactory(team=team, name="shop")
    blog = RepositoryFactory(team=team, connection=shop.connection, name="blog")
    rows = [
        FindingFactory(repository=repository, file_path=path)
        for repository in (shop, blog)
        for path in PATHS * 3
    ]
    services.codeowners_import(team=team, actor=admin, text=CODEOWNERS)
    services.codeowners_import(
        team=team, actor=admin, text="*.md @backend\n", repository_name="blog"
    )
    repository_rule("blog", squads["frontend"])
    services.finding_assign(team=team, actor=triager, finding=rows[0], assignee_id=admin.pk)
    return rows


def _owners(team) -> dict[int, tuple]:
    rows = Finding.objects.filter(team=team).values_list("pk", "owner_member_id", "owner_squad_id")
    return {pk: (member_id, squad_id) for pk, member_id, squad_id in rows}


def _evaluate(monkeypatch, team, *, chunk: int) -> tuple[int, int]:
    """One pass from no owners at all, `chunk` findings at a time: (changed, queries)."""
    Finding.objects.filter(team=team, owner_explicit=False).update(
        owner_member=None, owner_squad=None
    )
    monkeypatch.setattr(evaluation, "CHUNK", chunk)
    with CaptureQueriesContext(connection) as queries:
        changed = evaluation.owners_evaluate(team_id=team.pk)
    return changed, len(queries)


def _expected(team) -> dict[int, tuple]:
    """Each finding's owner as the rules say when read one by one, the last match winning."""
    rules = list(OwnershipRule.objects.filter(team=team).order_by("position", "id"))
    by_repository = {
        rule.repository_name: (None, rule.squad_id)
        for rule in rules
        if rule.kind == OwnershipRule.Kind.REPOSITORY
    }
    expected = {}
    for finding in Finding.objects.filter(team=team).select_related("repository"):
        name = finding.repository.name
        path_rules = [
            (pattern_regex(rule.pattern), (rule.member_id, rule.squad_id))
            for rule in rules
            if rule.kind == OwnershipRule.Kind.PATH and rule.repository_name in ("", name)
        ]
        owner = owner_for_path(path_rules, evaluation.normalized_path(finding.file_path))
        if finding.owner_explicit:
            owner = (finding.owner_member_id, finding.owner_squad_id)
        expected[finding.pk] = owner or by_repository.get(name, (None, None))
    return expected


def test_a_pass_in_chunks_gives_the_owners_of_a_single_pass(monkeypatch, team, findings):
    chunked_changed, _ = _evaluate(monkeypatch, team, chunk=CHUNK)
    chunked = _owners(team)
    single_changed, _ = _evaluate(monkeypatch, team, chunk=10_000)

    assert len(findings) > 4 * CHUNK
    assert chunked == _owners(team) == _expected(team)
    # Every finding the rules give an owner was written once, in either pass.
    owned = [pk for pk, owner in chunked.items() if owner != (None, None)]
    assert chunked_changed == single_changed == len(owned) - 1 > 2 * CHUNK
    # The assignment made by hand is kept, whatever the rules say.
    assert Finding.objects.get(pk=findings[0].pk).owner_explicit


def test_queries_grow_with_the_chunks_not_with_findings_times_rules(
    monkeypatch, team, admin, findings
):
    evaluated = len(findings) - 1  # the finding assigned by hand is not read
    assert evaluated % CHUNK  # the last chunk is short: no read after it
    chunks = -(-evaluated // CHUNK)
    _, few_rules = _evaluate(monkeypatch, team, chunk=CHUNK)
    # A hundred more rules that match nothing change no owner, and no query count.
    services.codeowners_import(
        team=team, actor=admin, text="".join(f"/nowhere-{n}/ @backend\n" for n in range(100))
    )
    _, many_rules = _evaluate(monkeypatch, team, chunk=CHUNK)
    _, one_chunk = _evaluate(monkeypatch, team, chunk=10_000)

    assert few_rules == many_rules
    # The rules' two reads, then per chunk its read and its writes in a transaction of their
    # own (one statement, or one per distinct owner of the chunk: four owners here at most).
    assert many_rules <= 2 + chunks * (1 + 2 + 4)
    assert one_chunk <= 2 + 1 + 2 + 4

    # Nothing to change: one read per chunk, no write.
    rule_reads = 2
    with CaptureQueriesContext(connection) as queries:
        assert evaluation.owners_evaluate(team_id=team.pk) == 0
    assert len(queries) == rule_reads + 1
    monkeypatch.setattr(evaluation, "CHUNK", CHUNK)
    with CaptureQueriesContext(connection) as queries:
        assert evaluation.owners_evaluate(team_id=team.pk) == 0
    assert len(queries) == rule_reads + chunks
