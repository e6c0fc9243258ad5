import pytest

from tests.connections import connect_and_sync
from triage.models import KolegaConnection, Role

SMALL_TREES = {
    "acme/payments-api": {
        "app/settings.py": 'import os\n\nDEBUG = False\npassword = "hunter2"\n',
        "app/db.py": 'def connect():\n    password = "s3cret"\n    return password\n',
    },
    "acme/worker": {"worker/main.py": 'password = "letmein"\nprint("ok")\n'},
    "acme/infra": {"deploy.sh": "#!/bin/sh\necho deploy\n"},
}


@pytest.fixture
def scan_org(db, sandbox_clock):
    """A sandbox organization with three small repositories; its quota can be lowered."""
    from sandbox.services.organizations import organization_create
    from sandbox.services.repositories import repository_create

    organization, key = organization_create(name="Acme Scans")
    for full_name, files in SMALL_TREES.items():
        repository_create(
            organization=organization,
            name=full_name.split("/", 1)[1],
            source_trees={full_name: files},
        )
    return organization, key


@pytest.fixture
def connection(team, scan_org, sandbox_transport, member) -> KolegaConnection:
    return connect_and_sync(
        team=team, admin=member(Role.ADMIN, username="alice-admin"), api_key=scan_org[1]
    )
