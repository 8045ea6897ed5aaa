"""Shell text run on POSIX nodes: the launch wrapper that puts a command in its own
process group and reports its pid, the kill-and-verify script, and the probe script."""

from __future__ import annotations

import shlex

from ..core.gpus import parse_gpu_list
from .base import RUN_TOKEN_ENV, ScriptFile

PID_MARK = b"\x1eLABDECK_PGID "
"""First line on stdout: the process group id of the command (then stripped from the output)."""


def script_invocation(path: str, script: ScriptFile) -> str:
    quoted = shlex.quote(path)
    if script.body.startswith("#!"):
        return quoted
    if script.filename.endswith(".py"):
        return f"{shlex.quote(script.interpreter) if script.interpreter else 'python3'} {quoted}"
    if script.filename.endswith(".bash"):
        return f"bash {quoted}"
    return f"/bin/sh {quoted}"


def launch_wrapper(command: str, env: dict[str, str], home_paths: dict[str, str] | None = None) -> str:
    """A line for the login shell that runs ``command`` under ``/bin/sh`` as the leader of its
    own process group (so its whole tree can be signalled as one), printing the group id first.

    OpenSSH's sshd already starts every session's shell as the leader of a new session, which
    shell builtins can see in ``/proc/$$/stat``; then ``exec`` keeps that pid and group and costs
    nothing. Elsewhere ``setsid -w`` (which forks and passes the exit code on) makes the group,
    or perl where there is no setsid (macOS)."""
    exports = "".join(f"export {name}={shlex.quote(value)}; " for name, value in env.items())
    # variables naming a file under the login folder: made full paths, so a step that changes folder still finds it
    exports += "".join(f"export {name}=\"$HOME\"/{shlex.quote(path)}; " for name, path in (home_paths or {}).items())
    inner = shlex.quote(f"printf '\\036LABDECK_PGID %s\\n' \"$$\"; {exports}{command}")
    return (
        "if read -r _ _ _ _ pg _ </proc/$$/stat 2>/dev/null && [ \"$pg\" = \"$$\" ]; "
        f"then exec /bin/sh -c {inner}; "
        f"elif command -v setsid >/dev/null 2>&1; then exec setsid -w /bin/sh -c {inner}; "
        f"else exec perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV' /bin/sh -c {inner}; fi"
    )


def token_sweep_functions(token: str) -> str:
    """Shell functions: ``leftovers`` prints the pids (other than this shell's) whose environment
    holds the run token; GNU grep reads every /proc/*/environ in one go, other greps one by one.
    /proc/PID/environ is the environment a process started with, readable for one's own processes."""
    entry = shlex.quote(f"{RUN_TOKEN_ENV}={token}")
    return (
        f"entry={entry}; "
        "if printf 'a\\0' | grep -qz a 2>/dev/null; then "
        "leftovers() { grep -lzxF -- \"$entry\" /proc/[0-9]*/environ 2>/dev/null | "
        "while IFS=/ read -r _ _ p _; do [ \"$p\" != \"$$\" ] && echo \"$p\"; done; }; "
        "else leftovers() { for f in /proc/[0-9]*/environ; do p=${f#/proc/}; p=${p%/environ}; "
        "[ \"$p\" = \"$$\" ] && continue; tr '\\0' '\\n' <\"$f\" 2>/dev/null | grep -qxF -- \"$entry\" && echo \"$p\"; "
        "done; }; fi; "
    )


def kill_group_script(pgid: int, grace_s: float, token: str | None = None) -> str:
    """TERM the group, wait up to ``grace_s``, KILL what is left, then say GONE or ALIVE.
    A member counts as alive unless it is a zombie (an exited process its parent has not
    reaped yet cannot run, and a slow init would otherwise make a kill look unconfirmed).

    With the run ``token``: then the same for processes that escaped the group but carry the
    token (printed as ``LEFTOVERS N``); any of them still running also makes it ALIVE."""
    steps = max(1, int(grace_s * 10))
    script = (
        f"pg={int(pgid)}; "
        "alive() { if command -v ps >/dev/null 2>&1; then "
        "ps -e -o pgid= -o stat= 2>/dev/null | awk -v pg=\"$pg\" '$1 == pg && $2 !~ /^Z/ {found=1} END {exit !found}'; "
        "else kill -s 0 -- -$pg 2>/dev/null; fi; }; "
        "kill -s TERM -- -$pg 2>/dev/null; i=0; "
        f"while alive && [ $i -lt {steps} ]; do sleep 0.1; i=$((i+1)); done; "
        "kill -s KILL -- -$pg 2>/dev/null; i=0; "
        "while alive && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; "
    )
    if not token:
        return script + f"if alive; then echo ALIVE; {_GROUP_SURVIVORS} else echo GONE; fi"
    return script + _sweep(token, steps) + ("if alive || [ -n \"$(leftovers)\" ]; then echo ALIVE; "
                                            f"{_GROUP_SURVIVORS} {_TOKEN_SURVIVORS} else echo GONE; fi")


def kill_token_script(token: str, grace_s: float) -> str:
    """Only the run-token part: every process carrying it, TERM then KILL (after a controller that
    ran the step was killed itself, nothing else is known of the step)."""
    return _sweep(token, max(1, int(grace_s * 10))) + (
        f"if [ -n \"$(leftovers)\" ]; then echo ALIVE; {_TOKEN_SURVIVORS} else echo GONE; fi")


# What a kill could not end, one ``SURVIVOR <pid> <user> <command name>`` line each: the group's
# members that are not zombies, and the processes still carrying the run token. A process of
# another user (started through sudo, a setuid helper or a service) is what a login cannot kill.
_GROUP_SURVIVORS = ("ps -e -o pgid= -o pid= -o user= -o stat= -o comm= 2>/dev/null | "
                    "awk -v pg=\"$pg\" '$1 == pg && $4 !~ /^Z/ {print \"SURVIVOR \" $2 \" \" $3 \" \" $5}';")
_TOKEN_SURVIVORS = ("for p in $(leftovers); do ps -o pid= -o user= -o comm= -p \"$p\" 2>/dev/null | "
                    "awk '{print \"SURVIVOR \" $1 \" \" $2 \" \" $3}'; done;")
MAX_SURVIVORS_NAMED = 5


def parse_survivors(out: str) -> list[str]:
    """What a kill script reported still running, as ``sleep (pid 4242, user root)``; at most a
    few named, then how many more."""
    seen: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] == "SURVIVOR" and parts[1].isdigit():
            seen.setdefault(parts[1], f"{parts[3]} (pid {parts[1]}, user {parts[2]})")
    named = list(seen.values())
    if len(named) > MAX_SURVIVORS_NAMED:
        named = [*named[:MAX_SURVIVORS_NAMED], f"{len(seen) - MAX_SURVIVORS_NAMED} more"]
    return named


def _sweep(token: str, steps: int) -> str:
    return token_sweep_functions(token) + (
        "left=$(leftovers); n=0; "
        "if [ -n \"$left\" ]; then n=$(echo \"$left\" | wc -l); kill -s TERM $left 2>/dev/null; i=0; "
        f"while [ -n \"$(leftovers)\" ] && [ $i -lt {steps} ]; do sleep 0.1; i=$((i+1)); done; "
        "left=$(leftovers); [ -n \"$left\" ] && kill -s KILL $left 2>/dev/null; i=0; "
        "while [ -n \"$(leftovers)\" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; fi; "
        "echo \"LEFTOVERS $n\"; "
    )


def parse_leftovers(out: str) -> int:
    """How many escaped processes a kill script found by the run token."""
    for line in out.splitlines():
        if line.startswith("LEFTOVERS "):
            return int(line.split()[1]) if line.split()[1].isdigit() else 0
    return 0


PROBE_SCRIPT = r"""
echo "os=$(uname -s)"
echo "os_release=$(uname -r)"
echo "arch=$(uname -m)"
echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "home=$HOME"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null)"
if [ -r /proc/meminfo ]; then
  awk '/^MemTotal:/ {print "memory_mb=" int($2/1024)}
       /^MemAvailable:/ {print "memory_free_mb=" int($2/1024)}' /proc/meminfo
elif command -v sysctl >/dev/null 2>&1; then
  echo "memory_mb=$(( $(sysctl -n hw.memsize) / 1048576 ))"
fi
df -Pk "$HOME" 2>/dev/null | awk 'NR==2 {print "disk_total_mb=" int($2/1024); print "disk_free_mb=" int($4/1024)}'
[ -r /proc/loadavg ] && echo "load=$(cut -d' ' -f1 /proc/loadavg)"
[ -r /proc/uptime ] && echo "uptime_s=$(cut -d. -f1 /proc/uptime)"
if [ -r /proc/stat ]; then
  a=$(head -n 1 /proc/stat); sleep 0.2; b=$(head -n 1 /proc/stat)
  printf '%s\n%s\n' "$a" "$b" | awk '{t=0; for (i=2; i<=NF; i++) t+=$i; tot[NR]=t; idle[NR]=$5+$6}
    END {dt=tot[2]-tot[1]; if (dt > 0) printf "cpu_pct=%d\n", 100*(dt-(idle[2]-idle[1]))/dt}'
fi
if command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')"
  echo "gpu_list=$(nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits 2>/dev/null \
    | sed 's/, */|/g' | tr '\n' ';')"
  nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits 2>/dev/null |
    awk -F', *' '$1 ~ /^[0-9]+$/ {u=u s $1; m=m s int(100*$2/($3>0?$3:1)); s=";"}
      END {if (u != "") {print "gpu_util=" u; print "gpu_mem=" m}}'
else
  echo "gpus=0"
fi
"""


def parse_probe(text: str) -> dict:
    info: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not value.strip():
            continue
        value = value.strip()
        info[key.strip()] = int(value) if value.isdigit() else value
    if "gpu_list" in info:
        info["gpu_list"] = parse_gpu_list(str(info["gpu_list"]))
    if "os" in info:
        info["os_family"] = {"Linux": "linux", "Darwin": "darwin"}.get(str(info["os"]), str(info["os"]).lower())
    return info
