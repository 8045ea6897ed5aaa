"""A detached item of an array whose node is cut off the network (the command runs on there)
follows the job's ``unreachable`` policy: under ``move`` it is placed again on another node at
once (under ``wait``, after the job's wait) and the run ends succeeded; when the node answers
again, the old command is killed by its process group and run token, and both task runs stay in
the item's history."""

from __future__ import annotations

import json
import uuid

import pytest

from labdeck.core.status import KillState, NodeRunStatus, RunStatus
from labdeck.store import run_queue
from tests.conftest import add_sshd_node
from tests.support.netns import NetnsLink
from tests.support.runs import add_job, log_text, processes_matching
from tests.support.waiting import wait_for


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["move", "wait"])
def test_a_lost_detached_item_moves_and_its_old_command_is_killed_when_the_node_returns(engine, sshd_cluster, policy):
    """``move``: at once; ``wait``: once the node has been lost for unreachable_wait_s (3 s here)."""
    link = NetnsLink().create()
    far = near = None
    try:
        far = sshd_cluster.start_node_in(link.exec_prefix, link.ns_ip)
        (near,) = sshd_cluster.start_nodes(1)
        for sshd in (far, near):
            add_sshd_node(engine, sshd, tags=["lab"])
        engine.catalog.set_setting("heartbeat_s", "2")
        marker = f"lost-item-{uuid.uuid4().hex[:8]}"
        command = (f"if [ \"$LABDECK_NODE\" = {far.name} ]; then sh -c 'sleep 300; : {marker}'; else sleep 2; fi; "
                   "echo item $LABDECK_ITEM done")
        add_job(engine, f"name: far\ntargets: tag:lab\narray: 2\nslots_per_node: 1\n"
                        f"policy: {{launch: detached, unreachable: {policy}, unreachable_wait_s: 3}}\n"
                        f"steps: [{json.dumps(command)}]\n")
        run = engine.start_job("far")
        wait_for(lambda: processes_matching(marker), 30, "the item's command to run on the node that is cut off")
        first, nr = next((t, nr) for t, nr in run_queue.task_runs(engine.catalog, run.id)
                         if nr["node_name"] == far.name)
        wait_for(lambda: "started detached on" in log_text(nr["log_path"]), 30, "the launch to be over")
        link.down()  # the command runs on there; LabDeck hears nothing from the node

        assert engine.wait(run.id, 90)
        tasks = run_queue.task_runs(engine.catalog, run.id)
        assert engine.catalog.get_run(run.id).status is RunStatus.SUCCEEDED, [
            (t.task, t.note, nr["node_name"], nr["status"], nr["message"]) for t, nr in tasks]
        again = [(t, nr) for t, nr in tasks if t.task == first.task and t.id != first.id]
        assert len(again) == 1 and again[0][1]["node_name"] == near.name and again[0][1]["status"] == "succeeded"
        assert f"(moved: {far.name} lost)" in again[0][0].note
        assert f"{far.name} stopped answering" in engine.catalog.get_run(first.id).note
        assert processes_matching(marker)  # the old command still runs on the node that is cut off

        link.up()
        wait_for(lambda: not processes_matching(marker), 90, "the old command to be killed once its node answers")
        old = wait_for(lambda: (nr := engine.catalog.node_runs(first.id)[0]).status.is_final and nr, 30,
                       "the old task run to record it")
        assert old.status is NodeRunStatus.CANCELLED and old.kill_state is KillState.KILLED, old.message
    finally:
        for sshd in (far, near):
            if sshd is not None:
                sshd.stop()
        link.delete()
