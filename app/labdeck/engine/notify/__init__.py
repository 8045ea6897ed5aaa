"""Notifications: run outcomes, missed fires and overlong runs become ``Notification`` events
on the bus (the tray shows them), and are delivered to the job's webhooks and email addresses
in the background through the channels of channels.py. A notifier that fails is logged and never
affects a run."""

from __future__ import annotations

import logging

from ...core.errors import LabDeckError
from ...core.events import Notification, RunFinished
from ...core.models import NOTIFY_KINDS
from ...core.status import NodeRunStatus, RunStatus
from ...store.catalog import Catalog
from ..bus import EventBus
from . import channels
from .delivery import Deliveries

log = logging.getLogger(__name__)
KINDS = NOTIFY_KINDS
_OUTCOME = {RunStatus.SUCCEEDED: "succeeded", RunStatus.FAILED: "failed", RunStatus.INTERRUPTED: "failed"}


class Notifier:
    def __init__(self, catalog: Catalog, bus: EventBus, attempts: int = 4, backoff_s: float = 1.0):
        self._catalog = catalog
        self._bus = bus
        self.deliveries = Deliveries(attempts, backoff_s)
        self._unsubscribe = bus.subscribe(self._on_event)

    def notify(self, kind: str, job_name: str, run_id: int | None, status: str, text: str,
               failing_nodes: tuple[str, ...] = ()) -> None:
        """Publish a notification if the job asks for this kind (jobs that are gone: never)."""
        policy = self._policy(job_name)
        if policy is None or kind not in policy.notify_on:
            return
        self._bus.publish(Notification(kind, job_name, run_id, status, text, failing_nodes))

    def _policy(self, job_name: str):
        try:
            return self._catalog.get_job(job_name).policy
        except LabDeckError:
            return None

    def _on_event(self, event) -> None:
        if isinstance(event, RunFinished) and event.status in _OUTCOME:
            failing = tuple(nr.node_name for nr in self._catalog.node_runs(event.run_id)
                            if nr.status is not NodeRunStatus.SUCCEEDED)
            note = self._catalog.get_run(event.run_id).note
            text = f"LabDeck: job '{event.job_name}' run {event.run_id} {event.status}"
            text += f" on {', '.join(failing)}" if failing else ""
            text += f" ({note})" if note else ""
            self.notify(_OUTCOME[event.status], event.job_name, event.run_id, str(event.status), text, failing)
        elif isinstance(event, Notification):
            self._deliver(event)

    def _deliver(self, n: Notification) -> None:
        policy = self._policy(n.job_name)
        if policy is None:
            return
        for channel in channels.CHANNELS.values():
            for what, send in channel(self._catalog, policy, n):
                self.deliveries.submit(what, send)

    def close(self, timeout: float = 3.0) -> None:
        self._unsubscribe()
        self.deliveries.close(timeout)
