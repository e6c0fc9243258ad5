"""A small repository with planted secrets, and helpers to move it through a scan."""

from sandbox import clock
from triage.kolega import KolegaClient, ScanBatch

SOURCE_TREES = {
    "acme/api": {
        "app/settings.py": (
            "import os\n\n"
            "DEBUG = False\n"
            'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
            'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
            'DB_PASSWORD = "hunter2hunter2"\n'
        ),
        "app/views.py": (
            "import subprocess\n\n\n"
            "def run(request):\n"
            '    return subprocess.call(request.GET["cmd"], shell=True)\n'
        ),
    },
}
SCAN_SECONDS = 120  # comfortably past the nominal end of a secrets scan batch
FIX_SECONDS = 120  # and of a fix run


def scan_to_completion(kolega: KolegaClient, repository, scan_type="secrets_scan") -> ScanBatch:
    batch = kolega.create_scan(repository_id=str(repository.id), scan_type=scan_type)
    clock.advance(SCAN_SECONDS)
    return kolega.get_scan(repository_id=str(repository.id), scan_id=batch.batch_id)
