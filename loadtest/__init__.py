"""The load test of the portal: `make loadtest` (see run.py)."""
