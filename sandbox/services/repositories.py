"""Repositories and their source repos (trees of real files)."""

from django.db import transaction

from sandbox import clock
from sandbox.models import Organization, Repository, SourceFile, SourceRepo
from sandbox.services.trees import source_tree_write


@transaction.atomic
def repository_create(
    *,
    organization: Organization,
    name: str,
    source_trees: dict[str, dict[str, str]],
    description: str | None = None,
    provider: str = "github",
    default_branch: str = "main",
    archived: bool = False,
) -> Repository:
    """A repository grouping one source repo per entry of ``source_trees`` (full_name → files)."""
    now = clock.now()
    repository = Repository.objects.create(
        organization=organization,
        name=name,
        description=description,
        archived=archived,
        created_at=now,
        updated_at=now,
    )
    for full_name, files in source_trees.items():
        source = SourceRepo.objects.create(
            repository=repository,
            full_name=full_name,
            provider=provider,
            default_branch=default_branch,
        )
        SourceFile.objects.bulk_create(
            SourceFile(source_repo=source, path=path, content=content)
            for path, content in files.items()
        )
        source_tree_write(source_repo=source, files=files)
    return repository


def source_repo_fail_scans_set(*, source_repo: SourceRepo, fails: bool) -> None:
    """Make every later scan of ``source_repo`` fail (or succeed again)."""
    source_repo.fails_scans = fails
    source_repo.save(update_fields=["fails_scans"])
