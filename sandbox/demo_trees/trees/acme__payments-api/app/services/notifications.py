"""Operational notifications to the #payments-ops channel."""

import requests

OPS_WEBHOOK_URL = "https://hooks.slack.com/services/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"


def post_to_ops(text: str) -> None:
    requests.post(OPS_WEBHOOK_URL, json={"text": text}, timeout=5)
