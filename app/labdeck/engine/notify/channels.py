"""The notification channels: the one list the notifier delivers through. A channel is a
function that turns one notification for one job into deliveries, each a (what, send) pair:
``what`` names it in the log, ``send()`` does it (on the delivery thread, retried on failure).
A new channel is a module here with such a function and one entry in CHANNELS; where a job
keeps the channel's addresses (its policy field, job-file key and CLI flag) is in CONTRIBUTING.md."""

from __future__ import annotations

import functools
from collections.abc import Callable

from ...core.events import Notification
from ...core.models import JobPolicy
from ...store.catalog import Catalog
from . import email, webhook

Delivery = tuple[str, Callable[[], None]]
Channel = Callable[[Catalog, JobPolicy, Notification], list[Delivery]]


def webhooks(_catalog: Catalog, policy: JobPolicy, n: Notification) -> list[Delivery]:
    """Slack, Teams or Discord incoming webhooks: one POST per URL."""
    return [(f"{n.kind} of {n.job_name} to webhook {webhook.redact(url)}", functools.partial(webhook.post, url, n))
            for url in policy.notify_webhooks]


def emails(catalog: Catalog, policy: JobPolicy, n: Notification) -> list[Delivery]:
    """One message to every address, through the SMTP server in the catalog's settings."""
    if not policy.notify_emails:
        return []
    settings = {key: catalog.get_setting(key) for key in email.SETTINGS}
    return [(f"{n.kind} of {n.job_name} by email",
             functools.partial(email.send, settings, list(policy.notify_emails), n))]


CHANNELS: dict[str, Channel] = {"webhook": webhooks, "email": emails}
