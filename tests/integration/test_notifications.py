"""Notifications: a webhook arrives at a real local HTTP server with the run's job, status and
failing nodes (Slack/Teams ``text``, Discord ``content``); a dead webhook never changes a run;
the tray hook is a typed event on the bus."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labdeck.core.events import Notification
from labdeck.core.models import Job, JobPolicy, Step
from labdeck.core.status import RunStatus
from tests.conftest import add_sshd_node


class Receiver:
    """An incoming-webhook endpoint on 127.0.0.1 that keeps what it is sent."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.bodies.append({"content_type": self.headers["Content-Type"],
                                        **json.loads(self.rfile.read(length))})
                self.send_response(204)
                self.end_headers()
                receiver.arrived.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/B000/secret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_failed_run_webhook_names_job_status_and_failing_nodes(engine, sshd_node, receiver):
    add_sshd_node(engine, sshd_node)
    job = Job(name="check", targets=f"{sshd_node.name},this-computer",
              steps=[Step(command=f'test "$LABDECK_NODE" != {sshd_node.name}')],
              policy=JobPolicy(notify_on=["failed"], notify_webhooks=[receiver.url]))
    engine.catalog.add_job(job)
    tray = []
    engine.bus.subscribe(lambda e: tray.append(e) if isinstance(e, Notification) else None)
    run = engine.start_job("check")
    assert engine.wait(run.id, 30)
    assert receiver.arrived.wait(10)
    body = receiver.bodies[0]
    assert body["content_type"] == "application/json"
    assert body["job"] == "check" and body["run_id"] == run.id and body["status"] == "failed"
    assert body["failing_nodes"] == [sshd_node.name] and body["event"] == "failed"
    assert "check" in body["text"] and sshd_node.name in body["text"] and body["content"] == body["text"]
    assert [(n.kind, n.run_id, n.failing_nodes) for n in tray] == [("failed", run.id, (sshd_node.name,))]


def test_unreachable_webhook_does_not_change_the_run(engine, receiver, caplog):
    engine.notifier.deliveries.backoff_s = 0.05
    engine.catalog.add_job(Job(name="fine", targets="this-computer", steps=[Step(command="echo fine")],
                               policy=JobPolicy(notify_on=["succeeded"],
                                                notify_webhooks=[closed_port_url(), receiver.url])))
    run = engine.start_job("fine")
    assert engine.wait(run.id, 20)
    assert receiver.arrived.wait(10)  # the good webhook is not held up by the dead one
    assert engine.notifier.deliveries.flush(10)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    assert receiver.bodies[0]["status"] == "succeeded"
    assert any("failed 4 times, giving up" in r.getMessage() for r in caplog.records)
    assert all("secret" not in r.getMessage() for r in caplog.records)  # webhook tokens stay out of logs


def test_missed_fires_are_posted_too(data_dir, receiver):
    from labdeck.core.schedules import Schedule, ScheduleKind
    from labdeck.engine.engine import Engine
    engine = Engine(data_dir, miss_grace_s=0.5)
    engine.catalog.add_job(Job(name="nightly", targets="this-computer", steps=[Step(command="true")],
                               policy=JobPolicy(notify_webhooks=[receiver.url])))
    schedule = engine.scheduler.store.add(Schedule("nightly", ScheduleKind.INTERVAL, "1.0"))
    time.sleep(max(0.0, schedule.created_at + 1.8 - time.time()))
    try:
        engine.start_scheduler()
        assert receiver.arrived.wait(10)
        assert receiver.bodies[0]["event"] == "missed" and receiver.bodies[0]["job"] == "nightly"
        assert receiver.bodies[0]["status"] == "missed"
    finally:
        engine.close()


def test_expected_duration_exceeded_is_notified_once_and_the_run_goes_on(engine):
    engine.catalog.add_job(Job(name="long", targets="this-computer", steps=[Step(command="sleep 1.2")],
                               policy=JobPolicy(expected_duration_s=0.4, notify_on=["exceeded"])))
    seen = []
    engine.bus.subscribe(lambda e: seen.append(e) if isinstance(e, Notification) else None)
    run = engine.start_job("long")
    assert engine.wait(run.id, 20)
    assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED
    assert [n.kind for n in seen] == ["exceeded"]
