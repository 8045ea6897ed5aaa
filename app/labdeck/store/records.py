"""Conversion between catalog rows and the core dataclasses (JSON columns in, objects out)."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..core.models import (
    DEFAULT_PROJECT,
    Capacity,
    Job,
    JobOption,
    JobPolicy,
    Node,
    NodeRun,
    Run,
    SlurmSettings,
    Step,
    StepKind,
    Transport,
    Trigger,
    WinrmSettings,
)
from ..core.status import KillState, NodeRunStatus, RunStatus
from .plan_codec import plan_from_json, plan_to_json


def node_to_row(node: Node) -> dict:
    return {
        "name": node.name,
        "transport": str(node.transport),
        "host": node.host,
        "port": node.port,
        "username": node.username,
        "key_file": node.key_file,
        "credential_ref": node.credential_ref,
        "tags": json.dumps(node.tags),
        "attributes": json.dumps(node.attributes),
        "capacity": json.dumps(asdict(node.capacity)),
        "os_family": node.os_family,
        "encoding": node.encoding,
        "probe": json.dumps(node.probe),
        "last_seen": node.last_seen,
        "winrm": json.dumps(asdict(node.winrm)),
        "python": node.python,
        "slurm": json.dumps(asdict(node.slurm)),
        "via": json.dumps(node.via),
    }


def node_from_row(row: dict) -> Node:
    return Node(
        id=row["id"],
        name=row["name"],
        transport=Transport(row["transport"]),
        host=row["host"],
        port=row["port"],
        username=row["username"],
        key_file=row["key_file"],
        credential_ref=row["credential_ref"],
        tags=json.loads(row["tags"]),
        attributes=json.loads(row["attributes"]),
        capacity=Capacity(**json.loads(row["capacity"])),
        os_family=row["os_family"],
        encoding=row["encoding"],
        probe=json.loads(row["probe"]),
        last_seen=row["last_seen"],
        winrm=WinrmSettings(**json.loads(row["winrm"] or "{}")),
        python=row["python"],
        slurm=SlurmSettings(**json.loads(row.get("slurm") or "{}")),
        via=json.loads(row.get("via") or "[]"),
    )


def job_to_row(job: Job) -> dict:
    return {
        "name": job.name,
        "description": job.description,
        "targets": job.targets,
        "steps": json.dumps([{**asdict(s), "kind": str(s.kind)} for s in job.steps]),
        "options": json.dumps([asdict(o) for o in job.options]),
        "policy": json.dumps(asdict(job.policy)),
        "plan": json.dumps(plan_to_json(job.plan)),
        "project": job.project,
    }


def job_from_row(row: dict) -> Job:
    steps = [Step(**{**s, "kind": StepKind(s["kind"])}) for s in json.loads(row["steps"])]
    return Job(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        targets=row["targets"],
        steps=steps,
        options=[JobOption(**o) for o in json.loads(row["options"])],
        policy=JobPolicy(**json.loads(row["policy"])),
        plan=plan_from_json(json.loads(row.get("plan") or "{}")),
        project=row.get("project") or DEFAULT_PROJECT,
    )


def run_from_row(row: dict) -> Run:
    return Run(
        id=row["id"],
        job_name=row["job_name"],
        trigger=Trigger(row["trigger"]),
        status=RunStatus(row["status"]),
        options=json.loads(row["options"]),
        targets=row["targets"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancel_requested=bool(row["cancel_requested"]),
        owner_pid=row["owner_pid"],
        owner_host=row["owner_host"],
        schedule_id=row.get("schedule_id"),
        scheduled_for=row.get("scheduled_for"),
        note=row.get("note") or "",
        restarts=row.get("restarts") or 0,
        parent_run_id=row.get("parent_run_id"),
        called_by_run_id=row.get("called_by_run_id"),
        workflow_run_id=row.get("workflow_run_id"),
        task=row.get("task") or "",
    )


def node_run_from_row(row: dict) -> NodeRun:
    return NodeRun(
        id=row["id"],
        run_id=row["run_id"],
        node_name=row["node_name"],
        status=NodeRunStatus(row["status"]),
        attempt=row["attempt"],
        exit_code=row["exit_code"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        log_path=row["log_path"],
        message=row["message"],
        kill_state=KillState(row["kill_state"]) if row["kill_state"] else None,
        cancel_requested=bool(row["cancel_requested"]),
    )
