"""What a detached node run hands its launcher: the work steps with options substituted, the
option values for the launcher's environment, and the values too large for it, which go as files
into the run folder on the node -- where the node's launcher can take them (POSIX nodes over SSH
and this computer). Others (Windows, Slurm) carry every value in their launcher's environment,
within its limits; a larger value is refused with one line saying what to do."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import InvalidInput
from ..core.models import Node, Step, StepKind
from ..core.option_values import ValueFile, detached_overflow, split_values
from ..core.quoting import Shell, option_environment, shell_for_script, substitute
from ..executors.base import ScriptFile
from .attached_steps import LONG_COMMAND_BYTES


@dataclass
class DetachedWork:
    steps: list[str | ScriptFile]
    option_env: dict[str, str]
    value_files: list[ValueFile] = field(default_factory=list)


def detached_work(ops, shell: Shell, node: Node, work: list[Step], options: dict[str, str]) -> DetachedWork:
    """Raises InvalidInput when a value is too large for a launcher that carries values in its environment."""
    if getattr(ops, "carries_value_files", False):
        option_env, value_files = split_values(options)
    else:
        if too_large := detached_overflow(options):
            raise InvalidInput(too_large)
        option_env, value_files = option_environment(options), []
    in_files = frozenset(v.option for v in value_files)
    steps: list[str | ScriptFile] = []
    for index, step in enumerate(work, 1):
        if step.kind is StepKind.SCRIPT:
            text = substitute(step.script, options, shell_for_script(step.filename, shell), in_files)
            steps.append(ScriptFile(step.filename, text, node.python))
            continue
        command = substitute(step.command, options, shell, in_files)
        if in_files and shell is Shell.SH and len(command.encode()) > LONG_COMMAND_BYTES:
            # a large value substituted: too long for the launcher's `sh -c` argument (Linux's
            # 128 KiB per argument), so it travels as a script file, as attached commands do
            steps.append(ScriptFile(f"command-{index}.sh", command))
        else:
            steps.append(command)
    return DetachedWork(steps, option_env, value_files)
