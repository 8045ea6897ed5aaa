"""Shell text for detached runs on POSIX nodes: the launcher that runs a node run's steps in a
run folder on the node (pid, boot id, output and exit code kept there), the command that
starts it outside the connection's session, the status check, and the retention clean-up.

A detached command survives the connection, the controller and the controller's machine:
it runs in a new session (``setsid``, else perl's POSIX::setsid) under ``nohup``, with its
output in ``out`` and ``err`` and its exit code written atomically to ``exit`` at the end.
The group id is in ``pid``; ``boot`` holds the node's boot id, so a pid reused after the node
restarted is never taken for the command."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..core.status import NodeRunStatus

RUNS_ROOT = ".labdeck/runs"  # relative to the login directory
FILES = ("launch.sh", "pid", "boot", "out", "err", "exit")


def launcher_script(step_invocations: list[str], env: dict[str, str], files: dict[str, str] | None = None) -> str:
    """The file the node runs: each step in order until one fails; then ``exit`` = "CODE STEP".
    ``files``: variables set to the full path of a file in the run folder."""
    exports = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
    exports += "".join(f"export {name}=\"$D\"/{shlex.quote(file)}\n" for name, file in (files or {}).items())
    steps = "".join(f"if [ $rc -eq 0 ]; then step={i}; {inv}; rc=$?; fi\n"
                    for i, inv in enumerate(step_invocations, 1))
    return (
        "#!/bin/sh\n"
        "# LabDeck detached launcher: runs one node run's steps whatever happens to the connection.\n"
        'D="$1"\n'
        'echo $$ > "$D/pid.tmp" && mv "$D/pid.tmp" "$D/pid"\n'
        'cat /proc/sys/kernel/random/boot_id > "$D/boot" 2>/dev/null\n'
        'exec >>"$D/out" 2>>"$D/err" </dev/null\n'
        f"{exports}"
        "rc=0; step=0\n"
        f"{steps}"
        "printf '%s %s\\n' \"$rc\" \"$step\" > \"$D/exit.tmp\" && mv \"$D/exit.tmp\" \"$D/exit\"\n"
    )


def start_command(remote_dir: str) -> str:
    """Starts ``launch.sh`` in its own session, detached from this one; prints "PGID <n>"."""
    d = shlex.quote(remote_dir)
    return (
        f"A=$(cd {d} && pwd) || exit 1; "
        "if command -v setsid >/dev/null 2>&1; then "
        'setsid nohup /bin/sh "$A/launch.sh" "$A" >/dev/null 2>&1 </dev/null & '
        "else nohup perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV' /bin/sh \"$A/launch.sh\" \"$A\" "
        ">/dev/null 2>&1 </dev/null & fi; "
        'i=0; while [ ! -s "$A/pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; '
        'echo "PGID $(cat "$A/pid" 2>/dev/null)"'
    )


def status_script(remote_dir: str, pgid: int | None) -> str:
    """Prints the state (EXIT code step | RUNNING | GONE), the group id and the output sizes.
    The sizes are read after the state, so with EXIT they are final."""
    d = shlex.quote(remote_dir)
    return (
        f"D={d}; pg={int(pgid) if pgid else ''}; "
        '[ -n "$pg" ] || pg=$(cat "$D/pid" 2>/dev/null); '
        "alive() { if command -v ps >/dev/null 2>&1; then "
        "ps -e -o pgid= -o stat= 2>/dev/null | awk -v pg=\"$pg\" '$1 == pg && $2 !~ /^Z/ {f=1} END {exit !f}'; "
        'else kill -s 0 -- -"$pg" 2>/dev/null; fi; }; '
        'same_boot() { [ ! -r "$D/boot" ] || [ ! -r /proc/sys/kernel/random/boot_id ] || '
        '[ "$(cat "$D/boot")" = "$(cat /proc/sys/kernel/random/boot_id)" ]; }; '
        'size() { if [ -f "$1" ]; then wc -c < "$1" | tr -d " "; else echo 0; fi; }; '
        'if [ -s "$D/exit" ]; then st="EXIT $(cat "$D/exit")"; '
        'elif [ -n "$pg" ] && same_boot && alive; then st=RUNNING; '
        'elif [ -s "$D/exit" ]; then st="EXIT $(cat "$D/exit")"; '
        "else st=GONE; fi; "
        'echo "$st"; echo "PGID ${pg:-0}"; echo "SIZES $(size "$D/out") $(size "$D/err")"'
    )


def cleanup_script(older_than_min: int) -> str:
    """Removes run folders finished more than ``older_than_min`` minutes ago, and script folders
    of attached runs that old; a folder whose command still runs is kept whatever its age."""
    m = int(older_than_min)
    return (
        f"R={RUNS_ROOT}; [ -d \"$R\" ] || exit 0; "
        f'find "$R" -mindepth 1 -maxdepth 1 -type d -mmin +{m} | while read -r d; do '
        '  if [ -s "$d/exit" ]; then [ -n "$(find "$d/exit" -mmin +' + str(m) + ')" ] && rm -rf "$d"; '
        '  elif [ -s "$d/pid" ]; then kill -s 0 -- -"$(cat "$d/pid")" 2>/dev/null || rm -rf "$d"; '
        '  else rm -rf "$d"; fi; '
        "done; echo CLEANED"
    )


@dataclass
class RemoteState:
    state: str                  # "running", "exited" or "gone"
    exit_code: int | None = None
    step: int = 0               # the step that ended it (the last one when all succeeded)
    pgid: int | None = None
    out_size: int = 0
    err_size: int = 0
    waiting: str = ""           # queued by a batch scheduler, and why (Slurm: "Resources", "Priority")
    ended_as: NodeRunStatus | None = None  # a scheduler's end state other than an exit code (Slurm: TIMEOUT)
    message: str = ""           # with ended_as: the scheduler's words for it


def parse_status(text: str) -> RemoteState:
    state, pgid, sizes = RemoteState("gone"), None, (0, 0)
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "EXIT" and len(words) >= 2:
            state = RemoteState("exited", _int(words[1]), (_int(words[2]) or 0) if len(words) > 2 else 0)
        elif words[0] == "RUNNING":
            state = RemoteState("running")
        elif words[0] == "PGID" and len(words) > 1:
            pgid = _int(words[1]) or None
        elif words[0] == "SIZES" and len(words) > 2:
            sizes = (_int(words[1]) or 0, _int(words[2]) or 0)
    state.pgid, (state.out_size, state.err_size) = pgid, sizes
    return state


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
