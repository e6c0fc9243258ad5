from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError
from django.db import connection as db_connection

from tests.factories import KolegaConnectionFactory
from triage.models import Finding, FindingSearch, Fix, Repository

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def repository():
    connection = KolegaConnectionFactory()
    return Repository.objects.create(
        connection=connection,
        team=connection.team,
        upstream_id="repo-1",
        name="payments",
        created_at=T0,
        updated_at=T0,
        synced_at=T0,
    )


def _finding(repository, upstream_id="f-1", **values):
    fields = {
        "check_id": "python.sqli",
        "severity": "high",
        "status": "open",
        "file_path": "app/db.py",
        "message": "SQL built from request data",
        "category": "injection",
        "scan_type": "semgrep_scan",
        "first_detected_at": T0,
        "last_detected_at": T0,
        "created_at": T0,
        "updated_at": T0,
        "synced_at": T0,
    } | values
    finding = Finding.objects.create(
        connection=repository.connection,
        team=repository.team,
        repository=repository,
        upstream_id=upstream_id,
        **fields,
    )
    FindingSearch.objects.write_of([finding])
    return finding


def test_one_row_per_connection_and_upstream_id(repository):
    _finding(repository)
    with pytest.raises(IntegrityError):
        _finding(repository)


def test_text_search_matches_title_message_check_id_and_path_in_any_case(repository):
    _finding(repository, "a", title="Hard-coded AWS key", message="m", file_path="x.py")
    _finding(repository, "b", check_id="generic.Secret", message="other", file_path="y.py")
    _finding(repository, "c", message="nothing", file_path="Config/Settings.py")

    def search(term):
        return set(
            Finding.objects.filter(search__text__contains=term.lower()).values_list(
                "upstream_id", flat=True
            )
        )

    assert search("AWS KEY") == {"a"}
    assert search("generic.secret") == {"b"}
    assert search("config/settings") == {"c"}


@pytest.mark.skipif(
    "db_connection.vendor != 'postgresql'", reason="trigram indexes exist on PostgreSQL only"
)
def test_text_search_has_a_trigram_index_on_postgresql_beside_the_findings_table():
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE indexdef LIKE '%%gin_trgm_ops%%'"
        )
        trigram = cursor.fetchall()
    # Only the search table holds one: an owner change on a finding never writes it.
    assert [table for table, _ in trigram] == ["triage_findingsearch"]
    assert "USING gin (text gin_trgm_ops)" in trigram[0][1]


def test_a_search_text_is_written_again_only_when_it_changes(repository):
    finding = _finding(repository, "a", title="Hard-coded AWS key", message="m")
    texts = {finding.pk: FindingSearch.text_of(finding)}
    if db_connection.vendor == "postgresql":
        assert FindingSearch.objects.write(texts) == 0
    finding.title = "Hard-coded GCP key"
    assert FindingSearch.objects.write({finding.pk: FindingSearch.text_of(finding)}) == 1
    assert FindingSearch.objects.get(finding=finding).text == "hard-coded gcp key\nm\n" + (
        f"{finding.check_id.lower()}\n{finding.file_path.lower()}"
    )
    finding.delete()
    assert not FindingSearch.objects.exists()


def test_a_fix_needs_its_diff_again_after_a_refined_run_completes(repository):
    fix = Fix.objects.create(
        connection=repository.connection,
        team=repository.team,
        repository=repository,
        upstream_id="fix-1",
        title="Fix",
        status="completed",
        created_at=T0,
        completed_at=T0,
        synced_at=T0,
    )
    assert fix.needs_diff
    fix.diff_synced_at = fix.diff_for_completed_at = T0
    assert not fix.needs_diff
    fix.completed_at = T0 + timedelta(minutes=5)  # refined and completed again
    assert fix.needs_diff
    fix.status = "running"
    assert not fix.needs_diff and not fix.is_settled
