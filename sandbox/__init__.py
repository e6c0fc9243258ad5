"""An emulator of the Kolega DevSec public API, mounted at ``/sandbox/`` when enabled.

Clients point at ``http://<host>:<port>/sandbox`` exactly as at the hosted service.
Operator tools:

- ``manage.py sandbox_seed [--key kcp_test_...] [--reset]``: the demo organization.
- ``manage.py sandbox_scale --repos R --findings N``: a large organization for benchmarks.
- ``manage.py sandbox_faults --org SLUG ...``: latency, 429, 5xx, slow or malformed
  responses, revoked keys; seeded and repeatable.
- ``manage.py sandbox_merge_pr URL``: merge a pull request into the sandbox's source tree.
- ``manage.py sandbox_close_pr URL``: close a pull request without merging it.
- ``/sandbox/control/{faults,pull-requests/merge,pull-requests/close,clock}``: the same over
  HTTP, guarded by the ``X-Sandbox-Admin-Token`` header (off unless ``SANDBOX_ADMIN_TOKEN``
  is set). The clock offset lives in the process, so move it only on a single-process server.

Pace: ``SANDBOX_TIME_SCALE`` multiplies every duration (0.1 is ten times faster, 0 instant).
"""
