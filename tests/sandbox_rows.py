"""Rows made straight in the sandbox, for tests that need Kolega's side of a case."""


def payments_repository(organization, source_trees: dict[str, dict[str, str]]):
    """The sandbox repository "Payments" of ``organization``, holding a copy of
    ``source_trees`` (source repo name → path → text)."""
    from sandbox.services.repositories import repository_create

    return repository_create(
        organization=organization,
        name="Payments",
        description="Payments service",
        source_trees={name: dict(files) for name, files in source_trees.items()},
    )
