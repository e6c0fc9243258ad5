"""Comments on a finding: the team's own discussion, beside the mirror.

A comment is keyed by the finding's Kolega id within its connection, not by the mirror row:
a mirror rebuilt from scratch gives the finding a new row, and the thread must still be there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.conf import settings
from django.db import models

from triage.models.connections import KolegaConnection
from triage.models.teams import TeamOwnedModel

# "@name" not glued to a word before it (an email address is no mention). Names are Django
# usernames; a full stop or dash that ends a sentence is not part of the name.
MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]+)")
MENTION_TRAILING = ".@+-"


def mention_names(body: str) -> list[str]:
    """The names mentioned in ``body``, in order, each once."""
    names: dict[str, None] = {}
    for _start, _end, name in _mentions(body):
        names.setdefault(name, None)
    return list(names)


def _mentions(body: str) -> Iterator[tuple[int, int, str]]:
    for match in MENTION.finditer(body):
        name = match.group(1).rstrip(MENTION_TRAILING)
        if name:
            yield match.start(), match.start(1) + len(name), name


def body_parts(body: str, mentioned: set[str]) -> list[tuple[str, bool]]:
    """``body`` cut into (text, is_mention) parts: a mention is a known ``mentioned`` name
    (compared case-insensitively); any other "@name" stays text."""
    known = {name.lower() for name in mentioned}
    parts: list[tuple[str, bool]] = []
    position = 0
    for start, end, name in _mentions(body):
        if name.lower() not in known:
            continue
        if start > position:
            parts.append((body[position:start], False))
        parts.append((body[start:end], True))
        position = end
    if position < len(body):
        parts.append((body[position:], False))
    return parts


class FindingComment(TeamOwnedModel):
    """One comment in a finding's thread, and the team members it mentions."""

    MAX_LENGTH = 4000

    connection = models.ForeignKey(KolegaConnection, on_delete=models.CASCADE, related_name="+")
    finding_upstream_id = models.CharField(max_length=300)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept when the user is deleted so the thread still names them.
    author_label = models.CharField(max_length=150)
    body = models.TextField()
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="finding_mentions"
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["connection", "finding_upstream_id", "created_at"],
                name="finding_comment_finding",
            )
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.finding_upstream_id}"
