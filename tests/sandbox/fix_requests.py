"""Asking the sandbox's API for a fix, as Kolega's clients do."""

import httpx


def fix_post(
    api: httpx.Client,
    repository_id,
    finding_ids: list[str],
    *,
    title: str = "t",
    instructions: str = "i",
    source_repo: str = "acme/api",
) -> httpx.Response:
    """POST a fix of ``finding_ids`` of the repository; the sandbox's answer, unchecked."""
    return api.post(
        f"/repositories/{repository_id}/fixes",
        json={
            "finding_ids": finding_ids,
            "title": title,
            "instructions": instructions,
            "source_repo": source_repo,
        },
    )
