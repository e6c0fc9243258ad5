"""Starting fixes through the portal's own service, as a person does from the findings."""


def fix_started(
    actor,
    findings,
    *,
    title: str = "Fix the findings",
    instructions: str = "Use parameterized queries.",
    source_repo: str | None = None,
):
    """A fix of ``findings`` (of one repository) started by ``actor``, in the first source repo
    of their repository unless ``source_repo`` is given."""
    from triage.services.fixes import fix_start

    repository = findings[0].repository
    return fix_start(
        team=findings[0].team,
        actor=actor,
        finding_ids=[f.pk for f in findings],
        title=title,
        instructions=instructions,
        source_repo=source_repo or repository.source_repos[0]["full_name"],
    )
