"""Source trees of the sandbox's git repositories, kept as rows."""

import hashlib

from django.db import transaction

from sandbox.models import SourceFile, SourceRepo


def source_tree(*, source_repo: SourceRepo) -> dict[str, str]:
    return dict(source_repo.files.order_by("path").values_list("path", "content"))


@transaction.atomic
def source_tree_write(*, source_repo: SourceRepo, files: dict[str, str]) -> None:
    """Make the stored tree equal ``files`` and move the head commit."""
    current = {f.path: f for f in source_repo.files.all()}
    changed = []
    for path, content in files.items():
        existing = current.get(path)
        if existing is None:
            SourceFile.objects.create(source_repo=source_repo, path=path, content=content)
        elif existing.content != content:
            existing.content = content
            changed.append(existing)
    SourceFile.objects.bulk_update(changed, ["content"])
    removed = [f.pk for path, f in current.items() if path not in files]
    SourceFile.objects.filter(pk__in=removed).delete()
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    source_repo.head_commit_sha = digest.hexdigest()
    source_repo.save(update_fields=["head_commit_sha"])
