"""How one attempt of a node run ended: what the attached steps, the detached follower, the
re-attacher and the transfer steps hand back to the dispatcher, which records it."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.status import KillState, NodeRunStatus


@dataclass(frozen=True)
class Outcome:
    status: NodeRunStatus
    exit_code: int | None = None
    message: str = ""
    kill_state: KillState | None = None  # set when LabDeck stopped the command (killed or not confirmed)
