"""A Slurm cluster as a LabDeck node in the Slurm tests: the node that reaches it through its
login sshd, and the Slurm job id LabDeck keeps for a node run."""

from __future__ import annotations

from labdeck.core.models import Node, SlurmSettings, Transport
from labdeck.store.detached import DetachedStore
from tests.support.waiting import wait_for


def add_cluster(engine, login, name: str = "hpc", check: bool = True, **settings) -> Node:
    node = Node(name=name, transport=Transport.SLURM, host=login.host, port=login.port, username=login.user,
                key_file=str(login.key_file), slurm=SlurmSettings(**settings))
    engine.add_node(node, accept_host_key=True, check=check)
    return node


def slurm_job_of(engine, node_run_id: int) -> str:
    store = DetachedStore(engine.catalog)
    return str(wait_for(lambda: (store.get(node_run_id) or None) and store.get(node_run_id).pgid, 30,
                        "the Slurm job id"))
