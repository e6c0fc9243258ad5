"""Owners with 100,000 findings mirrored: the findings page filtered by one squad and sorted by
SLA due, and My queue of a member in two squads who also has findings of their own.

The mirror is the findings page benchmark's (bench.findings); owners are then given as a
sync's rules would leave them, in a few bulk UPDATEs: each of seven squads owns the findings of
25 repositories (12.5% of all, about 500 per repository), the last 25 repositories have no
squad, and one finding in ten is assigned explicitly to one of 20 members (the measured member
among them). Server time is measured with Django's test Client in-process, p95 over repeated
requests, in a child process on a database of its own (`python -m bench.my_queue run <url>`).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime

from bench import common
from bench.findings import (
    REPOSITORIES,
    REQUESTS,
    UNSCALED_FINDINGS,
    _p95,
    _populate_mirror,
    _timed,
)
from bench.registry import Figure, benchmark

P95_TARGET_MS = 50.0
SQUADS = 7
REPOSITORIES_PER_SQUAD = 25
MEMBERS = 20
# One finding in this many is assigned to a member in person.
ASSIGNED_ONE_IN = 10


@benchmark("my_queue")
def my_queue_benchmark() -> list[Figure]:
    database_url = common.database_url("my_queue")
    env = common.environment(database_url)
    env.pop("REDIS_URL", None)
    result = common.run_child(
        ["-m", "bench.my_queue", "run", database_url], env, what="my queue benchmark"
    )
    enough = result["findings"] >= 100_000
    squad = (
        f"the findings page filtered by a squad owning {result['squad_findings']:,} of "
        f"{result['findings']:,} findings, sorted by SLA due"
    )
    queue = (
        "My queue of a member in two squads with findings of their own "
        f"({result['queue_findings']:,} open findings in it), soonest SLA due first"
    )
    return [
        *_page_figures("findings_by_squad_sla", result, "squad", squad, enough),
        *_page_figures("my_queue", result, "queue", queue, enough),
        # Server time is wall-clock: on a machine shared with other work it grows with the load.
        Figure("my_queue_bench_load_average", result["load_average"], "runnable processes"),
    ]


def _page_figures(name: str, result: dict, key: str, what: str, enough: bool) -> list[Figure]:
    p95 = result[f"{key}_p95_ms"]
    target = f"p95 < {P95_TARGET_MS:.0f} ms: {what} (50 rows), {result['requests']} requests"
    return [
        Figure(f"{name}_p95_ms", p95, "ms", target, p95 < P95_TARGET_MS and enough),
        Figure(f"{name}_p50_ms", result[f"{key}_p50_ms"], "ms"),
        Figure(f"{name}_queries_per_request", result[f"{key}_queries"], "queries"),
    ]


# The child process


def _assign_owners(team, user) -> dict:
    """Squads by repository and members by finding, in one bulk UPDATE each."""
    from django.contrib.auth import get_user_model
    from django.db.models import F

    from triage.models import Finding, Membership, Repository, Role, Squad

    members = [Membership.objects.get(team=team, user=user)]
    for n in range(MEMBERS - 1):
        other = get_user_model().objects.create_user(f"bench-member-{n:02d}")
        members.append(Membership.objects.create(team=team, user=other, role=Role.TRIAGER))
    repositories = list(Repository.objects.filter(team=team).order_by("pk").values_list("pk"))
    assert len(repositories) == REPOSITORIES
    squads = []
    for n in range(SQUADS):
        squad = Squad.objects.create(team=team, name=f"squad-{n}")
        # Three members a squad, each member in one or two squads; the measured member in two.
        squad.members.add(*(members[(n * 3 + k) % MEMBERS] for k in range(3)))
        ids = [pk for (pk,) in repositories[n * REPOSITORIES_PER_SQUAD :][:REPOSITORIES_PER_SQUAD]]
        Finding.objects.filter(team=team, repository_id__in=ids).update(owner_squad=squad)
        squads.append(squad)
    assert members[0].squads.count() == 2  # the measured member: squads 0 and 6
    by_remainder = Finding.objects.filter(team=team).annotate(remainder=F("id") % 1000)
    share = 1000 // ASSIGNED_ONE_IN // MEMBERS
    for n, membership in enumerate(members):
        # Each member: `share` ids of every 1,000, so one finding in ten is assigned in person.
        by_remainder.filter(remainder__gte=n * share, remainder__lt=(n + 1) * share).update(
            owner_member_id=membership.user_id, owner_explicit=True
        )
    return {"squad": squads[0]}


def _measure(client, url: str) -> tuple[list[float], int]:
    """A 50-row page's server times over REQUESTS requests, and its queries."""
    response, queries = common.counted_get(client, url)
    assert response.content.count(b"data-finding-row ") == 50
    return _timed(client, url, REQUESTS), len(queries)


def _run() -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.urls import reverse

    from triage.models import Finding
    from triage.selectors.findings import my_queue

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    data = _populate_mirror(random.Random(20261206), datetime.now(UTC), UNSCALED_FINDINGS)
    owners = _assign_owners(data["team"], data["user"])
    print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    squad = owners["squad"]
    squad_url = reverse("findings", kwargs={"team_slug": "bench"})
    squad_url += f"?squad={squad.pk}&sort=sla"
    client = common.signed_in_client(data["user"], squad_url)
    squad_timings, squad_queries = _measure(client, squad_url)
    queue_timings, queue_queries = _measure(client, reverse("my-queue", args=["bench"]))
    return {
        "load_average": round(os.getloadavg()[0], 2),
        "findings": data["findings"],
        "squad_findings": Finding.objects.filter(owner_squad=squad).count(),
        "queue_findings": my_queue(team=data["team"], user=data["user"]).count(),
        "requests": REQUESTS,
        "squad_p50_ms": round(statistics.median(squad_timings), 1),
        "squad_p95_ms": _p95(squad_timings),
        "squad_queries": squad_queries,
        "queue_p50_ms": round(statistics.median(queue_timings), 1),
        "queue_p95_ms": _p95(queue_timings),
        "queue_queries": queue_queries,
    }


if __name__ == "__main__":
    if len(sys.argv) > 2:
        print(json.dumps(_run()))
    else:
        from bench.__main__ import main

        sys.exit(main(["my_queue"]))
