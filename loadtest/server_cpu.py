"""The CPU time the load test's server spends on each request, written where run.py reads it.

Installed as the outermost middleware by loadtest/server_settings.py, which only the load
test's gunicorn runs with (LOADTEST_CPU_DIR names the folder). Each request's line holds the
CPU time of the thread that served it (time.thread_time: the other threads of the same worker
are not counted, nor the time spent waiting for PostgreSQL, Redis or Kolega), from the first
middleware in to the rendered response out, with the URL's route name and the name the load
test's client gave the request (X-Load-Name). Format: loadtest/measures.py.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

CPU_DIR_ENV = "LOADTEST_CPU_DIR"
NAME_HEADER = "X-Load-Name"
UNRESOLVED = "(no route)"


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")[:100]


class RequestCpuMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.directory = Path(os.environ[CPU_DIR_ENV])
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pid = None
        self._file = None

    def _write(self, line: str) -> None:
        with self._lock:
            # One file per process: gunicorn's workers are forked after this may be built.
            if self._pid != os.getpid():
                self._pid = os.getpid()
                path = self.directory / f"{self._pid}.tsv"
                self._file = path.open("a", buffering=1, encoding="utf-8")
            self._file.write(line)

    def __call__(self, request):
        started = time.thread_time()
        response = self.get_response(request)
        cpu_ms = (time.thread_time() - started) * 1000
        match = request.resolver_match
        route = match.view_name if match else UNRESOLVED
        label = _clean(request.headers.get(NAME_HEADER, ""))
        self._write(
            f"{time.time():.3f}\t{cpu_ms:.3f}\t{request.method}\t{_clean(route)}\t{label}\n"
        )
        return response
