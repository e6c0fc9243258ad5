"""The emulated operations: parse the request, call one service, render the contract body."""

from typing import Any

from django.http import HttpRequest

from sandbox import serializers
from sandbox.api import Caller
from sandbox.services.quotas import quota_balance


def me(request: HttpRequest, caller: Caller) -> tuple[int, Any]:
    return 200, serializers.me_body(caller)


def quotas_balance(request: HttpRequest, caller: Caller) -> tuple[int, Any]:
    return 200, serializers.quota_balance_body(quota_balance(organization=caller.organization))
