"""Notifications go out through the channel list of engine/notify/channels.py: each listed
channel gets every notification the job asks for, and a channel added there is used with no
other change to the notifier."""

from __future__ import annotations

from labdeck.core.events import Notification
from labdeck.core.models import Job, JobPolicy, Step
from labdeck.engine.bus import EventBus
from labdeck.engine.notify import Notifier, channels
from labdeck.store.catalog import Catalog


def test_every_listed_channel_delivers_the_jobs_notifications(tmp_path, monkeypatch):
    catalog = Catalog(tmp_path / "catalog.db")
    catalog.add_job(Job(name="nightly", targets="this-computer", steps=[Step(command="true")],
                        policy=JobPolicy(notify_on=["failed"], notify_webhooks=["http://127.0.0.1:9/hook"])))
    pager: list[tuple[str, str]] = []

    def pages(_catalog, policy, n):  # a new channel: one entry in CHANNELS
        return [(f"{n.kind} of {n.job_name} to the pager", lambda: pager.append((n.job_name, n.kind)))]

    monkeypatch.setitem(channels.CHANNELS, "pager", pages)
    seen: list[tuple[str, str]] = []
    monkeypatch.setitem(channels.CHANNELS, "webhook",
                        lambda _c, policy, n: [(f"webhook {url}", lambda url=url: seen.append((url, n.kind)))
                                               for url in policy.notify_webhooks])
    bus = EventBus()
    notifier = Notifier(catalog, bus, attempts=1, backoff_s=0.01)
    try:
        notifier.notify("failed", "nightly", 3, "failed", "nightly failed")
        notifier.notify("succeeded", "nightly", 4, "succeeded", "not asked for: never delivered")
        assert notifier.deliveries.flush(5)
    finally:
        notifier.close()
    assert pager == [("nightly", "failed")]
    assert seen == [("http://127.0.0.1:9/hook", "failed")]


def test_the_built_in_channels_are_webhooks_and_email():
    assert list(channels.CHANNELS) == ["webhook", "email"]
    n = Notification("failed", "nightly", 3, "failed", "text")
    policy = JobPolicy(notify_webhooks=["https://hooks.example/T0/secret"], notify_emails=[])
    (what, _send), = channels.webhooks(None, policy, n)
    assert what.startswith("failed of nightly to webhook ") and "secret" not in what
    assert channels.emails(None, policy, n) == []
