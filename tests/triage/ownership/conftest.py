import pytest

from triage.services import ownership as services


@pytest.fixture
def squads(team, admin):
    """The team's squads "backend" and "frontend", by name."""
    return {
        name: services.squad_create(team=team, actor=admin, name=name)
        for name in ("backend", "frontend")
    }


@pytest.fixture
def repository_rule(team, admin):
    """Adds, as the admin, a rule giving every finding of one repository to a squad."""

    def add(repository_name, squad):
        return services.rule_create(
            team=team,
            actor=admin,
            kind="repository",
            owner=services.RuleOwner(squad=squad),
            repository_name=repository_name,
        )

    return add
