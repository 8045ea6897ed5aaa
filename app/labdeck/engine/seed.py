"""First start: a node for this computer and a sample job, so a newcomer sees a run succeed at once."""

from __future__ import annotations

import sys

from ..core.models import Job, JobOption, JobPolicy, Node, Step, Transport
from ..store.catalog import Catalog

LOCAL_NODE = "this-computer"
SAMPLE_JOB = "hello"


def sample_job() -> Job:
    if sys.platform == "win32":
        command = "echo Hello from %COMPUTERNAME%, ${option.greeting} & ver & echo CPUs: %NUMBER_OF_PROCESSORS%"
    else:
        command = ('echo "Hello from $(hostname)," ${option.greeting}; uname -a; '
                   'echo "CPUs: $(getconf _NPROCESSORS_ONLN)"')
    return Job(
        name=SAMPLE_JOB,
        description="A first job: says hello from each target and shows what machine it is.",
        targets=LOCAL_NODE,
        steps=[Step(command=command, name="say hello")],
        options=[JobOption(name="greeting", default="LabDeck is working", description="what to say")],
        policy=JobPolicy(timeout_s=60),
    )


def seed_first_start(catalog: Catalog) -> bool:
    """Create the sample node and job once per catalog (not again if the user removes them)."""
    if catalog.get_setting("seeded") == "1":
        return False
    if not catalog.list_nodes():
        catalog.add_node(Node(name=LOCAL_NODE, transport=Transport.LOCAL, tags=["local"]))
    if not catalog.list_jobs():
        catalog.add_job(sample_job())
    catalog.set_setting("seeded", "1")
    return True
