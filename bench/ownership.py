"""Re-evaluating every ownership rule over 100,000 findings after a rule change.

A team with 100,000 findings over 200 repositories, a few dozen squads, a CODEOWNERS file of
about 200 patterns (directories, globs, `*.ext`, `**`), a scoped file for one repository and a
few repository rules. Each pass is the evaluation task's body (`ownership_evaluation_run`),
timed end to end: the first one over findings nobody owns yet, one after a rule is added
(`*.py` to a squad), one after the whole CODEOWNERS file is imported again with other owners
(the largest change: most findings get another owner), and one with no rule changed (which
changes nothing). A last pass after another such import runs with tracemalloc on, for the
peak of Python allocations (tracing slows Python down too much to time the same pass).

Mirror rows are inserted with bulk_create into a database of their own (`<name>_ownership_bench`
on the PostgreSQL server of DATABASE_URL, else a SQLite file under var/bench), in a child
process (`python -m bench.ownership <database-url>`) so that its memory and settings are its
own. The size can be lowered for a quick look with BENCH_OWNERSHIP_FINDINGS; SCALE sets it
(see `bench.scale`).
"""

from __future__ import annotations

import json
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from unittest import mock

from bench import common, scale
from bench.registry import Figure, benchmark

FINDINGS = scale.findings("BENCH_OWNERSHIP_FINDINGS")
REPOSITORIES = 200
SQUADS = 30
OWNER_MEMBERS = 8
REPOSITORY_RULES = 12

# A pass reads every finding: 15 s per 100,000 findings, so at SCALE the same speed per finding.
PASS_TARGET_S = 15.0 * max(1.0, FINDINGS / scale.DEFAULT_FINDINGS)
# Bounded memory: a pass holds one chunk of rows and the compiled rules, whatever the number
# of findings. Holding the 100,000 findings' rows at once (key, repository, path and owners
# as Python tuples) takes about 27 MB of Python allocations, and model instances several
# times that, so a peak under 20 MB shows that no pass keeps every row.
PEAK_TARGET_MB = 20.0

TOP_DIRECTORIES = (
    "src",
    "lib",
    "app",
    "pkg",
    "internal",
    "cmd",
    "services",
    "web",
    "frontend",
    "api",
    "config",
    "deploy",
    "scripts",
    "docs",
    "tests",
    "infra",
    ".github",
)
AREAS = (
    "auth",
    "billing",
    "payments",
    "search",
    "notifications",
    "accounts",
    "admin",
    "reports",
    "storage",
    "gateway",
    "checkout",
    "catalog",
    "inventory",
    "analytics",
    "messaging",
    "profile",
    "orders",
    "shipping",
    "pricing",
    "sessions",
)
SUBDIRECTORIES = (
    "handlers",
    "models",
    "views",
    "utils",
    "migrations",
    "components",
    "hooks",
    "middleware",
    "serializers",
    "clients",
    "templates",
    "workers",
    "",
    "",
)
EXTENSIONS = (
    ".py",
    ".py",
    ".js",
    ".ts",
    ".tsx",
    ".go",
    ".go",
    ".java",
    ".rb",
    ".yml",
    ".yaml",
    ".json",
    ".tf",
    ".sh",
    ".sql",
    ".md",
    ".kt",
    ".php",
)
STEMS = ("index", "main", "views", "handler", "client", "service", "utils", "settings", "app")
SPECIAL_FILES = ("Dockerfile", "Makefile", "package-lock.json", "requirements.txt", "go.sum")
REPOSITORY_KINDS = ("service", "web", "lib", "worker", "api", "infra", "tool", "sdk")
SQUAD_NAMES = [f"squad-{area}" for area in AREAS] + [
    "platform",
    "core",
    "sre",
    "security",
    "data",
    "docs",
    "frontend",
    "mobile",
    "qa",
    "infra",
]


@benchmark("ownership")
def ownership_benchmark() -> list[Figure]:
    database_url = common.database_url("ownership")
    env = common.environment(database_url)
    env.pop("REDIS_URL", None)  # the task body is called directly; nothing is queued
    result = common.run_child(
        ["-m", "bench.ownership", database_url], env, what="ownership benchmark"
    )
    full_size = result["findings"] >= 100_000
    return [
        Figure(
            "ownership_reevaluate_100k_s",
            result["reevaluate_s"],
            "s",
            f"< {PASS_TARGET_S:.0f} s to apply {result['rules']} rules again to "
            f"{result['findings']:,} findings after a rule is added",
            result["reevaluate_s"] < PASS_TARGET_S and full_size,
        ),
        Figure(
            "ownership_reevaluate_peak_memory_mb",
            result["peak_mb"],
            "MB",
            f"< {PEAK_TARGET_MB:.0f} MB traced Python peak over {result['findings']:,} "
            "findings (bounded: one chunk of rows at a time)",
            result["peak_mb"] < PEAK_TARGET_MB and full_size,
        ),
        # Informational: how many findings the rule change gave another owner.
        Figure("ownership_reevaluate_changed_findings", result["reevaluate_changed"], "findings"),
        # The largest change: most findings get another owner, and each is written.
        Figure(
            "ownership_reevaluate_reimport_100k_s",
            result["reimport_s"],
            "s",
            f"< {PASS_TARGET_S:.0f} s after the whole CODEOWNERS file is imported again with "
            "other owners",
            result["reimport_s"] < PASS_TARGET_S and full_size,
        ),
        Figure(
            "ownership_reevaluate_reimport_changed_findings", result["reimport_changed"], "findings"
        ),
        # The first pass, over findings nobody owned yet: every matched finding is written.
        Figure("ownership_first_evaluation_100k_s", result["first_s"], "s"),
        Figure("ownership_first_evaluation_changed_findings", result["first_changed"], "findings"),
        # A pass with no rule changed reads every finding and writes none.
        Figure(
            "ownership_unchanged_pass_100k_s",
            result["unchanged_s"],
            "s",
            f"< {PASS_TARGET_S:.0f} s, changing 0 findings",
            result["unchanged_s"] < PASS_TARGET_S and result["unchanged_changed"] == 0,
        ),
        Figure(
            "ownership_unchanged_pass_changed_findings", result["unchanged_changed"], "findings"
        ),
        Figure("ownership_bench_rules", result["rules"], "rules"),
        Figure("ownership_bench_findings", result["findings"], "findings"),
    ]


# The child process


def _file_path(rng: random.Random) -> str:
    top = rng.choice(TOP_DIRECTORIES)
    parts = [top]
    if top in ("src", "lib", "app", "pkg", "internal", "services", "web", "frontend", "api"):
        parts.append(rng.choice(AREAS))
        sub = rng.choice(SUBDIRECTORIES)
        if sub:
            parts.append(sub)
    elif top == "cmd":
        parts.append(rng.choice(AREAS))
    elif top in ("deploy", "infra", "config"):
        parts.append(rng.choice(("staging", "production", "dev", "modules", "")) or "base")
    elif top == "tests":
        parts.append(rng.choice(("unit", "integration", "e2e")))
        parts.append(rng.choice(AREAS))
    elif top == ".github":
        parts.append("workflows")
    if rng.random() < 0.06:
        name = rng.choice(SPECIAL_FILES)
    else:
        name = f"{rng.choice(STEMS)}_{rng.randrange(60)}{rng.choice(EXTENSIONS)}"
        if top == "tests":
            name = f"test_{name}"
    return "/".join([*parts, name])


def codeowners_text(rng: random.Random, squads: list[str], members: list[str]) -> str:
    """A CODEOWNERS file as large teams write one: a catch-all, then extensions, directories,
    globs and a few lines that take the owner away again."""

    def owner() -> str:
        return f"@{rng.choice(members)}" if rng.random() < 0.1 else f"@{rng.choice(squads)}"

    lines = ["# Owners of the monorepo's paths: the last matching line wins.", "* @platform", ""]
    for extension in sorted(set(EXTENSIONS)):
        lines.append(f"*{extension} {owner()}")
    lines += ["Dockerfile @sre", "**/Dockerfile @sre", "*.lock", "go.sum @core"]
    for top in TOP_DIRECTORIES:
        lines.append(f"/{top}/ {owner()}")
    for top in ("src", "lib", "app", "pkg", "internal", "services", "web", "frontend", "api"):
        for area in rng.sample(AREAS, 8):
            lines.append(f"/{top}/{area}/ @squad-{area}")
        lines.append(f"{top}/*/migrations/ @data")
    for area in AREAS:
        lines.append(f"**/{area}/handlers/*.py {owner()}")
        lines.append(f"{area}/ {owner()}")
        lines.append(f"/tests/*/{area}/ @qa")
    lines += [
        "docs/**/*.md @docs",
        "*.md @docs",
        "/deploy/**/*.yml @sre",
        "/deploy/production/ @sre",
        "/infra/**/*.tf @infra",
        "/.github/workflows/ @security",
        "/config/*.json @platform",
        "/config/production/*.yaml @sre",
        "**/migrations/*.sql @data",
        "/cmd/*/main_*.go @core",
        "**/settings_?.py @security",
        "**/test_*.py @qa",
        "/scripts/ ",
        "src/**/utils/ @core",
    ]
    for stem in STEMS:
        lines.append(f"**/{stem}_1?.* {owner()}")
    return "\n".join(lines) + "\n"


def _populate(rng: random.Random, now: datetime) -> dict:
    from django.contrib.auth import get_user_model

    from triage.models import (
        Finding,
        FindingSearch,
        KolegaConnection,
        Membership,
        Repository,
        Role,
        Team,
    )

    team = Team.objects.create(name="Bench", slug="bench")
    users = get_user_model().objects
    admin = users.create_user("bench-admin")
    Membership.objects.create(team=team, user=admin, role=Role.ADMIN)
    members = []
    for n in range(OWNER_MEMBERS):
        user = users.create_user(f"owner-{n}")
        Membership.objects.create(team=team, user=user, role=Role.TRIAGER)
        members.append(user.get_username())
    connection = KolegaConnection.objects.create(
        team=team, name="Bench org", api_key="kcp_bench_key", organization_id="org-bench"
    )
    common_fields = {"team": team, "connection": connection, "synced_at": now}
    repositories = Repository.objects.bulk_create(
        [
            Repository(
                **common_fields,
                upstream_id=f"repo-{i}",
                name=f"{REPOSITORY_KINDS[i % len(REPOSITORY_KINDS)]}-{AREAS[i % len(AREAS)]}-{i}",
                created_at=now,
                updated_at=now,
            )
            for i in range(REPOSITORIES)
        ]
    )
    findings = []
    for i in range(FINDINGS):
        # As the sync writes them: the indexes an owner change rewrites hold real values.
        values = {
            "check_id": f"python.lang.security.rule-{i % 97}",
            "file_path": _file_path(rng),
            "message": "User input reaches a sensitive sink without validation.",
            "title": f"Finding {i}: unvalidated input",
        }
        findings.append(
            Finding(
                **common_fields,
                **values,
                repository=repositories[rng.randrange(REPOSITORIES)],
                upstream_id=f"finding-{i}",
                severity=rng.choice(("critical", "high", "medium", "low")),
                status=rng.choice(("open", "open", "open", "resolved", "ignored")),
                category="injection",
                scan_type=rng.choice(("semgrep_scan", "secrets_scan", "sbom_scan")),
                first_detected_at=now,
                last_detected_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        if len(findings) >= 10_000:
            FindingSearch.objects.write_of(Finding.objects.bulk_create(findings, batch_size=5000))
            findings = []
    FindingSearch.objects.write_of(Finding.objects.bulk_create(findings, batch_size=5000))
    return {"team": team, "admin": admin, "members": members, "repositories": repositories}


def _timed_pass(queued: list[int], *, trace: bool = False) -> tuple[float, int, float]:
    """Run the evaluation the last rule change queued: (seconds, findings changed, peak MB)."""
    from triage.models import OwnershipEvaluation
    from triage.services.ownership import ownership_evaluation_run

    evaluation_id = queued.pop()
    queued.clear()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    evaluation = ownership_evaluation_run(evaluation_id=evaluation_id)
    seconds = time.perf_counter() - started
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert evaluation.state == OwnershipEvaluation.State.FINISHED, evaluation.state
    return round(seconds, 2), evaluation.changed, round(peak / 1e6, 2)


def _run(database_url: str) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from triage.models import OwnershipRule
    from triage.services import ownership as services

    call_command("migrate", verbosity=0)
    rng = random.Random(20261206)
    started = time.perf_counter()
    data = _populate(rng, datetime.now(UTC))
    team, admin = data["team"], data["admin"]
    print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    queued: list[int] = []
    # The task is not queued: each pass runs the task's body here, for the evaluation queued.
    with mock.patch.object(
        services, "task_send", lambda name, evaluation_id: queued.append(evaluation_id)
    ):
        squad_rows = [
            services.squad_create(team=team, actor=admin, name=name) for name in SQUAD_NAMES
        ]
        squads = [squad.name for squad in squad_rows]
        text = codeowners_text(random.Random(1), squads, data["members"])
        services.codeowners_import(team=team, actor=admin, text=text)
        scoped = data["repositories"][7].name
        services.codeowners_import(
            team=team,
            actor=admin,
            text=codeowners_text(random.Random(2), squads, data["members"])[:1500].rsplit("\n", 1)[
                0
            ],
            repository_name=scoped,
        )
        for repository in rng.sample(data["repositories"], REPOSITORY_RULES):
            services.rule_create(
                team=team,
                actor=admin,
                kind=OwnershipRule.Kind.REPOSITORY,
                owner=services.RuleOwner(squad=rng.choice(squad_rows)),
                repository_name=repository.name,
            )
        rules = OwnershipRule.objects.filter(team=team).count()
        first_s, first_changed, _ = _timed_pass(queued)

        # A rule change: one rule added, after the others, so it wins where it matches.
        services.rule_create(
            team=team,
            actor=admin,
            kind=OwnershipRule.Kind.PATH,
            owner=services.RuleOwner(squad=squad_rows[-1]),
            pattern="*.py",
        )
        reevaluate_s, reevaluate_changed, _ = _timed_pass(queued)

        def reimport(seed: int) -> None:
            """The whole file imported again, with other owners on its lines."""
            text = codeowners_text(random.Random(seed), squads, data["members"])
            services.codeowners_import(team=team, actor=admin, text=text, replace=True)

        # The largest change: most findings get another owner.
        reimport(3)
        reimport_s, reimport_changed, _ = _timed_pass(queued)

        # Nothing changed: the pass reads every finding and writes none.
        queued.append(services.ownership_evaluation_start(team=team, actor=admin).pk)
        unchanged_s, unchanged_changed, _ = _timed_pass(queued)

        # Another change as large, traced for memory.
        reimport(4)
        _, _, peak_mb = _timed_pass(queued, trace=True)
    return {
        "findings": FINDINGS,
        "rules": rules,
        "first_s": first_s,
        "first_changed": first_changed,
        "reevaluate_s": reevaluate_s,
        "reevaluate_changed": reevaluate_changed,
        "reimport_s": reimport_s,
        "reimport_changed": reimport_changed,
        "unchanged_s": unchanged_s,
        "unchanged_changed": unchanged_changed,
        "peak_mb": peak_mb,
    }


if __name__ == "__main__":
    print(json.dumps(_run(sys.argv[1])))
