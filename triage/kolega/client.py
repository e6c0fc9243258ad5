"""The Kolega public API client: the only code in the portal that speaks HTTP to Kolega.

Layers, as in openai-python: `_send` owns retries and logging, `_exchange` one request through
the outbound guard (`triage/outbound.py`: checked and pinned addresses, a deadline, a byte cap);
one keyword-only method per contract operation builds the request and names the response
model; errors are turned into the exception family of `errors.py`.

httpx is imported here and in the outbound guard only, so moving to an API-compatible fork is
a small change.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import httpx
import pydantic

from triage import outbound
from triage.kolega import errors, pagination
from triage.kolega.models import (
    CreatePullRequestsRequest,
    Finding,
    FindingEvent,
    FindingStatusUpdateRequest,
    Fix,
    FixCreateRequest,
    FixDiff,
    FixProgress,
    FixRefineRequest,
    KolegaModel,
    Me,
    Page,
    PullRequestsCreated,
    QuotaBalance,
    Repository,
    ScanBatch,
    ScanCreateRequest,
    ScanProgress,
    ScanResults,
)
from triage.kolega.retry import RETRYABLE_STATUS_CODES, RetryPolicy, parse_retry_after
from triage.kolega.version import PORTAL_VERSION

logger = logging.getLogger("triage.kolega")

API_PREFIX = "/api/v1"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)

# How far the server's clock may lag ours when we look for a resource our own lost request
# may have created. A same-kind resource created by someone else inside this window is taken
# as ours; that is the outcome we want anyway (one scan of that type running, not two).
CLOCK_SKEW_ALLOWANCE = timedelta(seconds=5)

M = TypeVar("M", bound=KolegaModel)
# What a create that may be reconciled makes: looked for among those created since it was sent.
Created = TypeVar("Created", ScanBatch, Fix)

Retryability = Literal["idempotent", "reconcile", "never"]


@dataclass(frozen=True)
class Operation:
    """One operation of the contract: how to call it and what comes back.

    `retry` says what may be done when a request was sent but its outcome is unknown (read
    timeout, 502/503/504): `idempotent` repeats it, `reconcile` looks for its effect first,
    `never` hands the question to the caller. A request that never left (connection refused,
    connect timeout) or was refused with 429 is retried whatever this says.
    """

    name: str
    method: str
    path: str
    response: type[KolegaModel]
    retry: Retryability = "idempotent"
    request: type[KolegaModel] | None = None


_SCANS = "/repositories/{repository_id}/scans"
_FINDINGS = "/repositories/{repository_id}/findings"
_FIXES = "/repositories/{repository_id}/fixes"

OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("me", "GET", "/me", Me),
        Operation("quota_balance", "GET", "/quotas/balance", QuotaBalance),
        Operation("list_repositories", "GET", "/repositories", Page[Repository]),
        Operation("get_repository", "GET", "/repositories/{repository_id}", Repository),
        Operation("list_finding_events", "GET", "/finding-events", Page[FindingEvent]),
        Operation("create_scan", "POST", _SCANS, ScanBatch, "reconcile", request=ScanCreateRequest),
        Operation("list_scans", "GET", _SCANS, Page[ScanBatch]),
        Operation("get_scan", "GET", _SCANS + "/{scan_id}", ScanBatch),
        Operation("get_scan_progress", "GET", _SCANS + "/{scan_id}/progress", ScanProgress),
        Operation("get_scan_results", "GET", _SCANS + "/{scan_id}/results", ScanResults),
        Operation("list_findings", "GET", _FINDINGS, Page[Finding]),
        Operation("get_finding", "GET", _FINDINGS + "/{finding_id}", Finding),
        # PATCH sets an absolute status: sending it twice has the effect of sending it once.
        Operation(
            "update_finding_status",
            "PATCH",
            _FINDINGS + "/{finding_id}",
            Finding,
            request=FindingStatusUpdateRequest,
        ),
        Operation("create_fix", "POST", _FIXES, Fix, "reconcile", request=FixCreateRequest),
        Operation("list_fixes", "GET", _FIXES, Page[Fix]),
        Operation("get_fix", "GET", _FIXES + "/{fix_id}", Fix),
        Operation("get_fix_diff", "GET", _FIXES + "/{fix_id}/diff", FixDiff),
        Operation("get_fix_progress", "GET", _FIXES + "/{fix_id}/progress", FixProgress),
        Operation(
            "refine_fix",
            "POST",
            _FIXES + "/{fix_id}/refine",
            Fix,
            "reconcile",
            request=FixRefineRequest,
        ),
        Operation("cancel_fix", "POST", _FIXES + "/{fix_id}/cancel", Fix, "reconcile"),
        Operation(
            "create_pull_requests",
            "POST",
            _FIXES + "/{fix_id}/pull-requests",
            PullRequestsCreated,
            "never",
            request=CreatePullRequestsRequest,
        ),
    )
}


@dataclass
class ClientStats:
    """What one client did on the wire; sync runs and benchmarks read it."""

    requests: int = 0
    retries: int = 0
    by_status: Counter[int | str] = field(default_factory=Counter)


# Failures that mean the request never left: sending it again cannot do anything twice.
NEVER_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


@dataclass(frozen=True)
class _Retry:
    """Where a call stands in its retries: which attempt, under which policy, until when."""

    attempt: int
    policy: RetryPolicy
    deadline_at: float  # time.monotonic() value

    @property
    def last(self) -> bool:
        return self.attempt == self.policy.max_attempts


class KolegaClient:
    """A connection to one Kolega organization, authenticated by its API key.

    One `httpx.Client` per instance; close it (or use `with`) when done. Every method is
    keyword-only, returns a model of the contract and raises a `KolegaError` subclass.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        user_agent_suffix: str | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        outbound_policy: outbound.OutboundPolicy | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("api_key is required")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        if outbound_policy is None:
            # An injected transport decides itself where requests go (tests, an in-process
            # sandbox), so only the URL's shape is checked; over the network the strict rules.
            strict = transport is None
            outbound_policy = outbound.OutboundPolicy(allow_http=not strict)
        self._outbound = outbound_policy
        # A refused base URL fails the first call, as a KolegaError every caller handles.
        self._refusal: outbound.OutboundRefused | None = None
        try:
            outbound_policy.check_base_url(base_url)
        except outbound.OutboundRefused as exc:
            self._refusal = exc
        self._api_key = api_key.strip()
        if isinstance(timeout, int | float):
            timeout = httpx.Timeout(timeout)
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._retry_policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        user_agent = f"TriagePortal/{PORTAL_VERSION}"
        if user_agent_suffix:
            user_agent = f"{user_agent} {user_agent_suffix}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API_PREFIX,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "User-Agent": user_agent,
                "Accept": "application/json",
            },
            timeout=self._timeout,
            transport=transport or outbound.GuardedTransport(outbound_policy),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the guard
        )
        self.base_url = str(self._http.base_url)

    def __repr__(self) -> str:
        # The key never appears, not even its prefix: reprs end up in logs and tracebacks.
        return f"<KolegaClient {self.base_url}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def request_count(self) -> int:
        """HTTP requests sent by this client, retries and reconciliation look-ups included."""
        return self.stats.requests

    # Identity and quotas

    def me(self) -> Me:
        """The organization and API key this client authenticates as; use it to verify a key."""
        return self._call("me")

    def quota_balance(self) -> QuotaBalance:
        """The current quota period and the remaining scans, pull requests and repositories."""
        return self._call("quota_balance")

    # Repositories

    def list_repositories(
        self, *, include_archived: bool = False, limit: int = 50, skip: int = 0
    ) -> Page[Repository]:
        """One page of the organization's repositories."""
        return self._call(
            "list_repositories",
            params={"include_archived": include_archived, "limit": limit, "skip": skip},
        )

    def get_repository(self, *, repository_id: str) -> Repository:
        return self._call("get_repository", path={"repository_id": repository_id})

    # Finding events

    def list_finding_events(
        self,
        *,
        repository_id: str | None = None,
        finding_id: str | None = None,
        scan_type: str | None = None,
        severity: str | None = None,
        event_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        skip: int = 0,
    ) -> Page[FindingEvent]:
        """One page of the organization-wide finding event feed, newest first."""
        return self._call(
            "list_finding_events",
            params={
                "repository_id": repository_id,
                "finding_id": finding_id,
                "scan_type": scan_type,
                "severity": severity,
                "event_type": event_type,
                "start": start,
                "end": end,
                "limit": limit,
                "skip": skip,
            },
        )

    # Scans

    def create_scan(self, *, repository_id: str, scan_type: str) -> ScanBatch:
        """Start a scan batch over every source repo of the repository (draws on a quota).

        Kolega takes no idempotency key, so a lost answer is resolved by looking: if the
        request timed out or met a 502/503/504 after being sent, the client lists the
        repository's batches of this scan type created since the request started (minus a
        clock skew allowance) and returns that batch instead of starting a second one. Only
        when none is found is the POST sent again.
        """
        path = {"repository_id": repository_id}

        def find_created(since: datetime) -> ScanBatch | None:
            page = self.list_scans(repository_id=repository_id, scan_type=scan_type, limit=20)
            return _newest_created_since(
                page.items, since, lambda batch: batch.scan_type == scan_type
            )

        return self._call(
            "create_scan",
            path=path,
            body=ScanCreateRequest(scan_type=scan_type),
            find_created=find_created,
        )

    def list_scans(
        self,
        *,
        repository_id: str,
        scan_type: str | None = None,
        status: str | None = None,
        limit: int = 20,
        skip: int = 0,
    ) -> Page[ScanBatch]:
        """One page of the repository's scan batches."""
        return self._call(
            "list_scans",
            path={"repository_id": repository_id},
            params={
                "scan_type": scan_type,
                "status": status,
                "limit": limit,
                "skip": skip,
            },
        )

    def get_scan(self, *, repository_id: str, scan_id: str) -> ScanBatch:
        return self._call("get_scan", path={"repository_id": repository_id, "scan_id": scan_id})

    def get_scan_progress(self, *, repository_id: str, scan_id: str) -> ScanProgress:
        """Percent complete and the per-source-repo breakdown of a scan batch."""
        return self._call(
            "get_scan_progress",
            path={"repository_id": repository_id, "scan_id": scan_id},
        )

    def get_scan_results(self, *, repository_id: str, scan_id: str) -> ScanResults:
        """A summary of every finding of a scan batch."""
        return self._call(
            "get_scan_results",
            path={"repository_id": repository_id, "scan_id": scan_id},
        )

    # Findings

    def list_findings(
        self,
        *,
        repository_id: str,
        scan_batch_id: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        scan_type: str | None = None,
        limit: int = 50,
        skip: int = 0,
    ) -> Page[Finding]:
        """One page of the repository's findings."""
        return self._call(
            "list_findings",
            path={"repository_id": repository_id},
            params={
                "scan_batch_id": scan_batch_id,
                "severity": severity,
                "status": status,
                "scan_type": scan_type,
                "limit": limit,
                "skip": skip,
            },
        )

    def get_finding(self, *, repository_id: str, finding_id: str) -> Finding:
        return self._call(
            "get_finding",
            path={"repository_id": repository_id, "finding_id": finding_id},
        )

    def update_finding_status(self, *, repository_id: str, finding_id: str, status: str) -> Finding:
        """Set a finding's status; idempotent, so it is retried like a read."""
        return self._call(
            "update_finding_status",
            path={"repository_id": repository_id, "finding_id": finding_id},
            body=FindingStatusUpdateRequest(status=status),
        )

    # Fixes

    def create_fix(
        self,
        *,
        repository_id: str,
        finding_ids: Sequence[str],
        title: str,
        instructions: str,
        source_repo: str,
        source_repo_provider: str = "github",
        source_scan_branch: str | None = None,
    ) -> Fix:
        """Start an AI fix run for the findings (draws on the `prs` quota).

        As with `create_scan`, a lost answer is resolved by looking before sending again:
        the fixes of the first finding created since the request started, with the same
        title and the same findings, are taken as the one this request created.
        """
        body = FixCreateRequest(
            finding_ids=list(finding_ids),
            title=title,
            instructions=instructions,
            source_repo=source_repo,
            source_repo_provider=source_repo_provider,
            source_scan_branch=source_scan_branch,
        )
        wanted_findings = sorted(body.finding_ids)

        def find_created(since: datetime) -> Fix | None:
            page = self.list_fixes(
                repository_id=repository_id,
                finding_id=wanted_findings[0] if wanted_findings else None,
                limit=50,
            )
            return _newest_created_since(
                page.items,
                since,
                lambda fix: fix.title == title and sorted(fix.finding_ids) == wanted_findings,
            )

        return self._call(
            "create_fix",
            path={"repository_id": repository_id},
            body=body,
            find_created=find_created,
        )

    def list_fixes(
        self,
        *,
        repository_id: str,
        finding_id: str | None = None,
        limit: int = 50,
        skip: int = 0,
    ) -> Page[Fix]:
        """One page of the repository's fixes, optionally only those touching a finding."""
        return self._call(
            "list_fixes",
            path={"repository_id": repository_id},
            params={"finding_id": finding_id, "limit": limit, "skip": skip},
        )

    def get_fix(self, *, repository_id: str, fix_id: str) -> Fix:
        return self._call("get_fix", path={"repository_id": repository_id, "fix_id": fix_id})

    def get_fix_diff(self, *, repository_id: str, fix_id: str) -> FixDiff:
        """The fix's unified diff; `diff` is None until the fix is completed."""
        return self._call("get_fix_diff", path={"repository_id": repository_id, "fix_id": fix_id})

    def get_fix_progress(self, *, repository_id: str, fix_id: str) -> FixProgress:
        """Heartbeat of a fix run: duration, agent steps, latest activity."""
        return self._call(
            "get_fix_progress", path={"repository_id": repository_id, "fix_id": fix_id}
        )

    def refine_fix(self, *, repository_id: str, fix_id: str, instructions: str) -> Fix:
        """Re-run a completed fix with follow-up instructions.

        Refining only applies to a completed fix and sends it back to running, so after a
        lost answer a fix that is no longer completed shows the refine took effect; a fix
        still completed shows it did not, and the request is sent again.
        """
        return self._call(
            "refine_fix",
            path={"repository_id": repository_id, "fix_id": fix_id},
            body=FixRefineRequest(instructions=instructions),
            find_created=self._fix_found_in(repository_id, fix_id, ("pending", "running")),
        )

    def cancel_fix(self, *, repository_id: str, fix_id: str) -> Fix:
        """Stop a pending or running fix. After a lost answer, a fix found cancelled is
        returned rather than cancelled twice (which Kolega answers as an illegal state)."""
        return self._call(
            "cancel_fix",
            path={"repository_id": repository_id, "fix_id": fix_id},
            find_created=self._fix_found_in(repository_id, fix_id, ("cancelled",)),
        )

    def _fix_found_in(
        self, repository_id: str, fix_id: str, statuses: tuple[str, ...]
    ) -> Callable[[datetime], Fix | None]:
        """After a lost answer to a change of a fix: the fix, read again, if its status shows
        the change took effect, else None (and the request is sent again)."""

        def find_applied(since: datetime) -> Fix | None:
            fix = self.get_fix(repository_id=repository_id, fix_id=fix_id)
            return fix if fix.status.lower() in statuses else None

        return find_applied

    def create_pull_requests(
        self,
        *,
        repository_id: str,
        fix_id: str,
        title: str | None = None,
        body: str | None = None,
        branch_name: str | None = None,
    ) -> PullRequestsCreated:
        """Open one pull request per source repo touched by a completed fix's diff.

        Never retried once sent: a second set of pull requests on the customer's code host
        is worse than a failure, and the fix's `pull_requests` cannot tell a slow first
        request from a lost one. A lost answer raises `KolegaUnavailable` with
        `outcome_unknown=True`; the caller reconciles by reading the fix.
        """
        return self._call(
            "create_pull_requests",
            path={"repository_id": repository_id, "fix_id": fix_id},
            body=CreatePullRequestsRequest(title=title, body=body, branch_name=branch_name),
        )

    # Pagination

    def iter_pages(self, list_method: Callable[..., Page[M]], **filters: Any) -> Iterator[Page[M]]:
        """Every page of a list method, 200 items at a time (see `pagination.iter_pages`)."""
        return pagination.iter_pages(list_method, **filters)

    def iter_all(self, list_method: Callable[..., Page[M]], **filters: Any) -> Iterator[M]:
        """Every item of a list method across its pages."""
        return pagination.iter_all(list_method, **filters)

    # Transport, retries, errors

    def _call(
        self,
        operation_name: str,
        *,
        path: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        body: KolegaModel | None = None,
        find_created: Callable[[datetime], Any] | None = None,
    ) -> Any:
        operation = OPERATIONS[operation_name]
        if self._refusal is not None:
            raise self._address_refused(operation, self._refusal)
        if type(body) is not (operation.request or type(None)):
            raise TypeError(f"{operation_name} sends {operation.request}, not {type(body)}")
        url = operation.path.format(
            **{name: quote(str(value), safe="") for name, value in (path or {}).items()}
        )
        query = {
            name: _query_value(value) for name, value in (params or {}).items() if value is not None
        }
        payload = body.model_dump(mode="json") if body is not None else None
        response = self._send(
            operation,
            url=url,
            params=query,
            json_body=payload,
            find_created=find_created,
        )
        if isinstance(response, KolegaModel):
            return response  # found by reconciliation after a lost answer
        return self._parse(operation, response)

    def _send(
        self,
        operation: Operation,
        *,
        url: str,
        params: dict[str, str],
        json_body: Any,
        find_created: Callable[[datetime], Any] | None,
    ) -> httpx.Response | KolegaModel:
        """Send one operation, retrying as its `retry` allows, all within one deadline."""
        request_started_at = datetime.now(UTC)
        full_path = API_PREFIX + url
        with outbound.deadline(self._outbound.deadline_seconds) as deadline_at:
            for attempt in range(1, self._retry_policy.max_attempts + 1):
                retry = _Retry(attempt=attempt, policy=self._retry_policy, deadline_at=deadline_at)
                started = time.monotonic()
                try:
                    response = self._exchange(operation, url=url, params=params, body=json_body)
                except httpx.TransportError as exc:
                    failure = self._transport_failure(operation, full_path, exc, started, attempt)
                    never_sent = isinstance(exc, NEVER_SENT_ERRORS)
                    if never_sent or operation.retry == "idempotent":
                        self._wait_or_raise(retry, failure, exc)
                        continue
                    found = self._after_unknown_outcome(
                        operation, failure, find_created, request_started_at, attempt, exc
                    )
                    if found is not None:
                        return found
                    continue

                self._count(attempt, response.status_code)
                self._log(operation, full_path, response.status_code, started, attempt)
                if response.is_success:
                    return response
                if response.status_code not in RETRYABLE_STATUS_CODES:
                    raise self._final_error(operation, full_path, response)
                if response.status_code == 429:
                    # A 429 is a refusal: nothing was done, so even a POST may be sent again.
                    self._wait_for_rate_limit(retry, operation, full_path, response)
                    continue
                failure = self._error_from_response(operation, full_path, response)
                if operation.retry == "idempotent":
                    # A 503 may say when to come back; otherwise back off.
                    self._wait_or_raise(retry, failure, None, response=response)
                    continue
                found = self._after_unknown_outcome(
                    operation, failure, find_created, request_started_at, attempt, None
                )
                if found is not None:
                    return found
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _exchange(
        self, operation: Operation, *, url: str, params: dict[str, str], body: Any
    ) -> httpx.Response:
        """One request and its whole answer, read within the deadline and the byte cap."""
        request = self._http.build_request(operation.method, url, params=params or None, json=body)
        full_path = API_PREFIX + url
        try:
            return outbound.exchange(self._http, request, policy=self._outbound)
        except outbound.OutboundRefused as exc:
            raise self._address_refused(operation, exc) from exc
        except outbound.OutboundResponseTooLarge as exc:
            logger.warning(
                "kolega %s %s: answer larger than %d bytes", operation.method, full_path, exc.limit
            )
            raise errors.KolegaTooLarge(
                f"the answer is larger than the {exc.limit} bytes the portal reads",
                method=operation.method,
                path=full_path,
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise errors.KolegaError(
                f"the base URL is not usable: {self._redact(str(exc))}",
                method=operation.method,
                path=full_path,
            ) from exc

    def _address_refused(
        self, operation: Operation, refusal: outbound.OutboundRefused
    ) -> errors.KolegaAddressRefused:
        logger.warning(
            "kolega %s %s refused by the outbound guard: %s",
            operation.method,
            API_PREFIX + operation.path,
            self._redact(refusal.detail),
        )
        return errors.KolegaAddressRefused(
            refusal.message,
            detail=self._redact(refusal.detail),
            method=operation.method,
            path=API_PREFIX + operation.path,
        )

    def _transport_failure(
        self,
        operation: Operation,
        full_path: str,
        exc: httpx.TransportError,
        started: float,
        attempt: int,
    ) -> errors.KolegaUnavailable:
        self._count(attempt, "error")
        reason = self._transport_reason(exc)
        self._log(operation, full_path, reason, started, attempt, level=logging.WARNING)
        return errors.KolegaUnavailable(
            f"Kolega is unreachable: {reason}",
            reason=reason,
            method=operation.method,
            path=full_path,
        )

    def _final_error(
        self, operation: Operation, full_path: str, response: httpx.Response
    ) -> errors.KolegaError:
        error = self._error_from_response(operation, full_path, response)
        if isinstance(error, errors.KolegaUnavailable) and operation.retry != "idempotent":
            # A 500 may come after the work was done; say so rather than guess.
            error.outcome_unknown = True
        return error

    def _wait_for_rate_limit(
        self, retry: _Retry, operation: Operation, full_path: str, response: httpx.Response
    ) -> None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        limited = errors.KolegaRateLimited(
            "Kolega is rate limiting this organization",
            reason=f"rate limited (retry after {retry_after or 0:g}s)",
            retry_after=retry_after,
            status_code=429,
            method=operation.method,
            path=full_path,
        )
        self._wait_or_raise(retry, limited, None, response=response)

    def _wait_or_raise(
        self,
        retry: _Retry,
        failure: errors.KolegaError,
        cause: BaseException | None,
        *,
        response: httpx.Response | None = None,
    ) -> None:
        """Wait before the next attempt, or raise `failure` when there is none: the last
        attempt failed, the server asks for a longer wait than the client blocks for, or the
        wait would end past the call's deadline."""
        wait = None
        if response is not None:
            wait = parse_retry_after(response.headers.get("Retry-After"))
        if retry.last or (wait is not None and wait > retry.policy.retry_after_cap):
            raise failure from cause
        if wait is None:
            wait = retry.policy.backoff(attempt=retry.attempt, rng=self._rng)
        if time.monotonic() + wait >= retry.deadline_at:
            raise failure from cause
        self._sleep(wait)

    def _after_unknown_outcome(
        self,
        operation: Operation,
        failure: errors.KolegaError,
        find_created: Callable[[datetime], Any] | None,
        request_started_at: datetime,
        attempt: int,
        cause: BaseException | None,
    ) -> KolegaModel | None:
        """A sent POST failed without telling whether it took effect. Return what it created
        if that can be found, None to send it again; raise when neither is allowed."""
        unknown = errors.KolegaUnavailable(
            f"{failure.message}; the request may or may not have taken effect",
            reason=getattr(failure, "reason", failure.message),
            outcome_unknown=True,
            status_code=failure.status_code,
            error_code=failure.error_code,
            method=operation.method,
            path=failure.path,
        )
        if operation.retry != "reconcile" or find_created is None:
            raise unknown from cause
        # Wait first: the server may still be finishing the lost request, and a look taken
        # too early would miss it and send a duplicate.
        self._sleep(self._retry_policy.backoff(attempt=attempt, rng=self._rng))
        try:
            found = find_created(request_started_at - CLOCK_SKEW_ALLOWANCE)
        except errors.KolegaError as exc:
            raise unknown from exc
        if found is not None:
            logger.info(
                "kolega %s %s: lost answer reconciled, found the created resource",
                operation.method,
                failure.path,
            )
            return found
        if attempt == self._retry_policy.max_attempts:
            raise unknown from cause
        return None

    def _parse(self, operation: Operation, response: httpx.Response) -> KolegaModel:
        path = response.request.url.path
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise errors.KolegaMalformedResponse(
                f"response is not JSON ({response.headers.get('content-type', 'no content type')},"
                f" {len(response.content)} bytes)",
                status_code=response.status_code,
                method=operation.method,
                path=path,
            ) from exc
        try:
            return operation.response.model_validate(data)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)[:5]
            )
            raise errors.KolegaMalformedResponse(
                f"response breaks the contract: {self._redact(problems)}",
                status_code=response.status_code,
                method=operation.method,
                path=path,
            ) from exc

    def _error_from_response(
        self, operation: Operation, path: str, response: httpx.Response
    ) -> errors.KolegaError:
        status = response.status_code
        message, error_code, quota_type, period_end, details = _read_error_body(response)
        message = self._redact(message or response.reason_phrase or f"HTTP {status}")
        common = {
            "status_code": status,
            "error_code": error_code,
            "method": operation.method,
        }
        common["path"] = path
        if status == 401:
            return errors.KolegaAuthError(message, **common)
        if status == 403 and quota_type:
            if period_end is None and operation.name != "quota_balance":
                period_end = self._quota_period_end()
            return errors.KolegaQuotaExceeded(
                message, quota_type=quota_type, period_end=period_end, **common
            )
        if status == 403:
            return errors.KolegaAuthError(message, **common)
        if status == 404:
            return errors.KolegaNotFound(message, **common)
        if status == 422:
            return errors.KolegaValidationError(message, details=details, **common)
        if status in (400, 409):
            return errors.KolegaConflict(message, **common)
        if status >= 500:
            return errors.KolegaUnavailable(
                f"Kolega answered with a server error: {message}",
                reason=f"HTTP {status} from Kolega",
                **common,
            )
        return errors.KolegaError(message, **common)

    def _quota_period_end(self) -> datetime | None:
        """The quota error does not say when the counter resets; the balance does. Best
        effort: a failure here must not hide the quota error itself."""
        try:
            return self.quota_balance().period_end
        except errors.KolegaError:
            return None

    def _transport_reason(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.TimeoutException) and outbound.deadline_passed():
            return f"no complete answer within the {self._outbound.deadline_seconds:g}s deadline"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out after {self._timeout.connect:g}s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"timed out after {self._timeout.read:g}s waiting for a response"
        if isinstance(exc, httpx.WriteTimeout):
            return f"timed out after {self._timeout.write:g}s sending the request"
        if isinstance(exc, httpx.PoolTimeout):
            return f"no free connection after {self._timeout.pool:g}s"
        text = str(exc).lower()
        if isinstance(exc, httpx.ConnectError):
            if "refused" in text:
                return "connection refused"
            if "name or service not known" in text or "nodename nor servname" in text:
                return "host name not found"
            return f"could not connect ({self._redact(str(exc)) or type(exc).__name__})"
        if isinstance(exc, httpx.RemoteProtocolError):
            return "connection closed by Kolega before a complete response"
        return self._redact(str(exc)) or type(exc).__name__

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted key]")[:500]

    def _count(self, attempt: int, outcome: int | str) -> None:
        self.stats.requests += 1
        if attempt > 1:
            self.stats.retries += 1
        self.stats.by_status[outcome] += 1

    def _log(
        self,
        operation: Operation,
        path: str,
        outcome: int | str,
        started: float,
        attempt: int,
        *,
        level: int | None = None,
    ) -> None:
        duration_ms = round((time.monotonic() - started) * 1000)
        if level is None:
            level = logging.INFO if isinstance(outcome, int) and outcome < 400 else logging.WARNING
        logger.log(
            level,
            "kolega %s %s -> %s in %d ms (attempt %d)",
            operation.method,
            path,
            outcome,
            duration_ms,
            attempt,
            extra={
                "kolega_operation": operation.name,
                "kolega_method": operation.method,
                "kolega_path": path,
                "kolega_status": outcome,
                "kolega_duration_ms": duration_ms,
                "kolega_attempt": attempt,
            },
        )


def _newest_created_since(
    items: Iterable[Created], since: datetime, matches: Callable[[Created], bool]
) -> Created | None:
    """After a lost answer to a create: the newest of `items` created since the request
    started that `matches` it, taken as the one the request created."""
    created = [item for item in items if item.created_at >= since and matches(item)]
    return max(created, key=lambda item: item.created_at, default=None)


def _query_value(value: Any) -> str | int | float | bool:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _read_error_body(
    response: httpx.Response,
) -> tuple[str | None, str | None, str | None, datetime | None, list[dict[str, Any]]]:
    """Message, error code, quota type, period end and validation details of an error body,
    whichever of Kolega's envelopes it uses (see kolega-api/NOTES.md)."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, None, None, None, []
    if not isinstance(data, dict):
        return None, None, None, None, []
    detail = data.get("detail")
    if isinstance(detail, list):
        details = [item for item in detail if isinstance(item, dict)]
        message = "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', []))}: {item.get('msg', '')}"
            for item in details[:5]
        )
        return message or "invalid request", None, None, None, details
    if isinstance(detail, str):
        return detail, None, None, None, []
    if isinstance(detail, dict):
        message = detail.get("detail") or detail.get("message")
        period_end = None
        if isinstance(detail.get("period_end"), str):
            try:
                period_end = datetime.fromisoformat(detail["period_end"])
            except ValueError:
                period_end = None
        return (
            message if isinstance(message, str) else None,
            detail.get("error_code") if isinstance(detail.get("error_code"), str) else None,
            detail.get("quota_type") if isinstance(detail.get("quota_type"), str) else None,
            period_end,
            [],
        )
    return None, None, None, None, []
