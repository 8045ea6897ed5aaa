"""Incoming webhooks: one JSON body that Slack and Microsoft Teams (``text``) and Discord
(``content``) all accept, plus structured fields for any other receiver."""

from __future__ import annotations

import json
import urllib.request

from ...core.events import Notification

TIMEOUT_S = 10.0


def payload(n: Notification) -> dict:
    return {
        "text": n.text,
        "content": n.text[:2000],  # Discord's limit
        "event": n.kind,
        "job": n.job_name,
        "run_id": n.run_id,
        "status": n.status,
        "failing_nodes": list(n.failing_nodes),
    }


def post(url: str, n: Notification, timeout: float = TIMEOUT_S) -> None:
    body = json.dumps(payload(n)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "LabDeck"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # non-2xx raises HTTPError
        response.read()


def redact(url: str) -> str:
    """Webhook URLs embed their secret token: logs show only the host."""
    return url.split("//", 1)[-1].split("/", 1)[0]
