"""What the WS-Management test server runs for a WinRM Command, on Linux.

Linux has no cmd.exe or PowerShell, so the server (tests/support/wsman_server.py) turns each
command line it receives into a local process here:

- ``powershell.exe ... -EncodedCommand <b64>`` carrying one of LabDeck's scripts (first line
  ``# labdeck-launch cmd|powershell`` or ``# labdeck-helper NAME``, see
  labdeck/executors/winrm/launch.py) is emulated from the script's *text*: the environment
  it sets and its ``$name = '...'`` parameters are read with PowerShell's single-quote rules
  (so the executor's quoting is decoded exactly as PowerShell would), then

  * a launch script runs its step with ``/bin/sh -c`` in a new session (its pid is the process
    group id), printing ``\\x1eLABDECK_PID <pid>`` first as the real launcher does. A cmd step's
    text gets three translations: ``%NAME%`` and ``!NAME!`` become quoted ``$NAME`` references
    (expanded after parsing, as delayed expansion is), ``call X`` becomes ``/bin/sh X`` and
    ``python X`` becomes ``python3 X``; a leading ``chcp 65001>nul &`` is dropped. A PowerShell
    step's text runs as sh text, with ``& $env:LABDECK_SCRIPT`` meaning ``/bin/sh "$LABDECK_SCRIPT"``.
    The step's stdin is closed, as the launcher closes it.
  * a helper runs as a small Python program doing what the PowerShell helper does: upload
    (base64 lines on stdin into a file, prints ``sha256=``), download (a file as base64
    lines), kill (SIGKILL to the process group, then waits until no member is left and prints
    GONE/ALIVE, as ``taskkill /T /F`` plus the check does), probe (this machine's CPUs, memory
    and disk in the probe's ``key=value`` form) and preflight (the server's configured quotas).
  * the detached-run helpers (labdeck/executors/winrm_detached_scripts.py) keep the same run
    folder files as on Windows, using the POSIX launcher of labdeck.executors.posix_detached:
    ``detached-start`` reads the uploaded ``launch.ps1`` (its environment lines and its
    ``Invoke-LabdeckStep`` lines, each step translated as a launch script's step is), writes it
    as ``launch.sh`` next to it and starts that with ``setsid nohup`` (in place of
    ``Win32_Process.Create``: it outlives the shell and the server's command); the launcher
    writes ``pid`` (its process group, which the kill helper kills), ``out``, ``err`` and
    ``exit``. ``detached-status`` and ``detached-cleanup`` run the POSIX status and clean-up
    text (same output), ``detached-read`` prints base64 of a byte range of ``out`` or ``err``.

- any other command line runs as ``/bin/sh -c "<command> <arguments>"`` with stdin open for
  Send messages (this is what pywinrm's ``Session.run_cmd('echo', ['hi'])`` gets).

Windows paths map into the server's folder: a relative path is under the profile folder
(``%USERPROFILE%``, which the node calls ``C:\\Users\\labdeck-test``: ``<root>/profile``),
``C:\\x`` is ``<root>/C/x``; an environment value a step gets that is such a Windows path is
given to the Linux process as its mapped path. As on Windows, the processes have no ``HOME``.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from labdeck.executors import posix_detached
from labdeck.executors.winrm.job_objects import JOB_MARK, JOB_PREFIX
from tests.support import wsman_transfer_emulation

JOB_VARIABLE = "WSMAN_TEST_JOB"  # a detached launcher's named Job Object, as an inherited variable
PS_QUOTED = r"'((?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*)'"
_ENV_RE = re.compile(r"^\[Environment\]::SetEnvironmentVariable\(" + PS_QUOTED + r", " + PS_QUOTED + r"\)$", re.M)
# A .ps1 runs as sh text here; like Windows PowerShell, it drops the file's UTF-8 BOM first.
PS1_AS_SH = r"""/bin/sh -c "$(LC_ALL=C sed '1s/^\xef\xbb\xbf//' "$LABDECK_SCRIPT")" """.strip()
# a variable set to a file under the profile folder (the uploaded script, an option value's file)
_SCRIPT_ENV_RE = re.compile(r"^\[Environment\]::SetEnvironmentVariable\('(\w+)', "
                            r"\(Join-Path \$env:USERPROFILE " + PS_QUOTED + r"\)\)$", re.M)
# PowerShell reading an option value's file (core.quoting) as sh reads it (sh drops trailing newlines)
_READ_VALUE_FILE = re.compile(r"\(\[System\.IO\.File\]::ReadAllText\(\$env:(\w+)\)\)")
_PARAM_RE = re.compile(r"^\$(\w+) = " + PS_QUOTED + r"$", re.M)
_PS_PAIR = re.compile(r"(['\u2018\u2019\u201a\u201b])\1")
_CMD_VAR = re.compile(r"%(\w+)%|!(\w+)!")
_DETACHED_STEP_RE = re.compile(r"^if \(\$rc -eq 0\) \{ \$step = (\d+); \$rc = Invoke-LabdeckStep '(cmd|powershell)' "
                               + PS_QUOTED + " " + PS_QUOTED + r" \}$", re.M)


def ps_unquote(body: str) -> str:
    """The value of a PowerShell single-quoted literal's body (each doubled quote is one)."""
    return _PS_PAIR.sub(r"\1", body)


def decode_encoded_command(arguments: str) -> str | None:
    parts = arguments.split()
    for flag, value in zip(parts, parts[1:], strict=False):
        if flag.lower() in ("-encodedcommand", "-enc", "-e"):
            return base64.b64decode(value).decode("utf-16-le")
    return None


CLIXML_WRAPPER = str(Path(__file__).with_name("clixml_stderr.py"))
WINDOWS_PROFILE = "C:\\Users\\labdeck-test"  # %USERPROFILE% as the emulated node reports it


def map_path(windows_path: str, root: Path) -> Path:
    """A Windows path on the emulated node as a path under ``root``."""
    path = windows_path.replace("\\", "/")
    profile = WINDOWS_PROFILE.replace("\\", "/")
    if path.lower() == profile.lower() or path.lower().startswith(profile.lower() + "/"):
        return root / "profile" / path[len(profile):].lstrip("/")
    match = re.match(r"^([A-Za-z]):/?(.*)$", path)
    if match:
        return root / match.group(1).upper() / match.group(2)
    return root / "profile" / path.lstrip("/")


def translate_cmd(text: str, delayed: bool = True) -> str:
    """A cmd step as sh text (see the module doc). cmd's own parsing is followed where LabDeck
    relies on it: ``%NAME%`` is expanded first (as a variable reference here); then, outside
    double quotes, ``^`` makes the next character literal; then, with delayed expansion on and a
    ``!`` left in the text, ``^`` makes the next character literal again (inside quotes too),
    ``!NAME!`` is a variable reference and a lone ``!`` is removed, as cmd.exe does (for the whole
    line here, where cmd does it per command). Literal characters reach sh escaped; everything
    else is left for sh to read."""
    text = re.sub(r"^chcp 65001>nul & ", "", text)
    items: list = []  # (char, literal) pairs; (None, name) for a variable reference
    pos = 0
    for match in re.finditer(r"%(\w+)%", text):
        items += [(c, False) for c in text[pos:match.start()]] + [(None, match.group(1))]
        pos = match.end()
    items += [(c, False) for c in text[pos:]]
    items = _cmd_carets(items, in_quotes_too=False)
    if delayed and any(char == "!" for char, _ in items):
        items = _cmd_delayed(_cmd_carets(items, in_quotes_too=True))
    out, quoted = [], False
    for char, literal in items:
        if char is None:
            out.append(f"${{{literal}}}" if quoted else f'"${{{literal}}}"')
        elif literal:
            out.append(("\\" + char if char in '$`"\\' else char) if quoted else
                       (char if char.isalnum() else "\\" + char))
        else:
            quoted ^= char == '"'
            out.append(char)
    sh = "".join(out)
    sh = re.sub(r"^call ", "/bin/sh ", sh)
    return re.sub(r"^python ", "python3 ", sh)


def _cmd_carets(items: list, in_quotes_too: bool) -> list:
    """``^`` escapes the next character: outside (unescaped) double quotes while cmd parses the
    line, anywhere during delayed expansion."""
    out, quoted, i = [], False, 0
    while i < len(items):
        char, literal = items[i]
        if char == '"' and not literal:
            quoted = not quoted
        if char == "^" and (in_quotes_too or not (quoted or literal)) and i + 1 < len(items) \
                and items[i + 1][0] is not None:
            out.append((items[i + 1][0], True))
            i += 2
            continue
        out.append((char, literal))
        i += 1
    return out


def _cmd_delayed(items: list) -> list:
    """``!NAME!`` as a variable reference; a lone ``!`` removed."""
    out, i = [], 0
    while i < len(items):
        char, literal = items[i]
        if char == "!" and not literal:
            end = next((k for k in range(i + 1, len(items)) if items[k] == ("!", False)), None)
            name = "".join(c or "" for c, _ in items[i + 1:end]) if end else ""
            if end and re.fullmatch(r"\w+", name):
                out.append((None, name))
                i = end + 1
            else:
                i += 1
            continue
        out.append((char, literal))
        i += 1
    return out


class Plan:
    """How to start one command: argv, extra environment, stdin mode, whether to print the pid
    mark, whether its errors reach stderr as CLIXML (it stands for powershell.exe, see
    tests/support/wsman_command.py) and whether it is a job step's launcher."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, stdin_open: bool = True,
                 pid_mark: bool = False, clixml_stderr: bool = True, launch: bool = False):
        self.argv = argv
        self.env = env or {}
        self.stdin_open = stdin_open
        self.pid_mark = pid_mark
        self.clixml_stderr = clixml_stderr
        self.launch = launch


def plan_command(command: str, arguments: str, root: Path, quotas: dict[str, str]) -> Plan:
    script = None
    if not arguments and " " in command.strip():  # pywinrm's run_ps puts the whole line in Command
        command, arguments = command.strip().split(None, 1)
    if Path(command.replace("\\", "/")).name.lower() in ("powershell", "powershell.exe", "pwsh", "pwsh.exe"):
        script = decode_encoded_command(arguments)
    if script is None:
        return Plan(["/bin/sh", "-c", f"{command} {arguments}".strip()], clixml_stderr=False)
    first = script.split("\n", 1)[0]
    env = {ps_unquote(m.group(1)): ps_unquote(m.group(2)) for m in _ENV_RE.finditer(script)}
    env = {k: str(map_path(v, root)) if re.match(r"^[A-Za-z]:\\", v) else v for k, v in env.items()}
    for profile_path in _SCRIPT_ENV_RE.finditer(script):
        env[profile_path.group(1)] = str(map_path(ps_unquote(profile_path.group(2)), root))
    params = {m.group(1): ps_unquote(m.group(2)) for m in _PARAM_RE.finditer(script)}
    if first == "# labdeck-launch cmd":
        # the launcher copies cmd's stderr bytes to its own as they are: no CLIXML
        delayed = "/V:ON" in params.get("labdeckSwitches", "/V:ON").upper()
        cmd_line = f'"C:\\Windows\\system32\\cmd.exe" {params.get("labdeckSwitches", "")} ""'
        if len(cmd_line) + len(params["labdeckCmd"]) > 8191:
            return Plan(["/bin/sh", "-c", "printf 'The command line is too long.\\r\\n' >&2; exit 1"], stdin_open=False,
                        pid_mark=True, clixml_stderr=False, launch=True)
        return Plan(["/bin/sh", "-c", translate_cmd(params["labdeckCmd"], delayed)], env, stdin_open=False,
                    pid_mark=True,
                    clixml_stderr=False, launch=True)
    if first == "# labdeck-launch powershell":
        text = script.split("# labdeck-payload\n", 1)[1].rsplit("\n# labdeck-payload-end", 1)[0]
        text = powershell_step_as_sh(text)
        return Plan(["/bin/sh", "-c", text], env, stdin_open=False, pid_mark=True, launch=True)
    if first.startswith("# labdeck-helper detached-"):
        return plan_detached(first.split()[-1], params, root)
    if first.startswith("# labdeck-helper "):
        name = first.split()[-1]
        if name.startswith("xfer-"):
            return Plan(wsman_transfer_emulation.argv(name, params, map_path(params["path"], root)))
        if name in ("upload", "download"):
            params["path"] = str(map_path(params["path"], root))
        if name == "preflight":
            params = {k: quotas.get(k, "") for k in params["names"].split(",")}
        if name == "home":
            params = {"home": WINDOWS_PROFILE}
        if name == "probe":
            params = {"powershell": quotas.get("PowerShellVersion", "5")}
        return Plan([sys.executable, "-c", HELPERS[name], *[f"{k}={v}" for k, v in params.items()]])
    return Plan(["/bin/sh", "-c", script])


def powershell_step_as_sh(text: str) -> str:
    """A PowerShell step's payload (between the payload marker lines) as sh text."""
    if "# labdeck-payload\n" in text:
        text = text.split("# labdeck-payload\n", 1)[1].rsplit("\n# labdeck-payload-end", 1)[0]
    return _READ_VALUE_FILE.sub(r'"$(cat "$\1")"', text.replace("& $env:LABDECK_SCRIPT", PS1_AS_SH))


def detached_cmd_as_sh(arguments: str) -> str:
    """A detached cmd step (cmd.exe's arguments: switches, then the quoted text) as sh text."""
    match = re.fullmatch(r'(/D /V:(ON|OFF) /S /C) "(.*)"', arguments, re.S)
    return translate_cmd(match.group(3), match.group(2) == "ON") if match else translate_cmd(arguments)


def detached_launcher_as_sh(launcher: str, root: Path) -> str:
    """The POSIX launcher doing what a Windows detached launcher (``launch.ps1``) does."""
    env = {ps_unquote(m.group(1)): ps_unquote(m.group(2)) for m in _ENV_RE.finditer(launcher)}
    env |= {m.group(1): str(map_path(ps_unquote(m.group(2)), root)) for m in _SCRIPT_ENV_RE.finditer(launcher)}
    if JOB_MARK in launcher and env.get("LABDECK_RUN_TOKEN"):
        # the launcher's named Job Object: membership is inherited, as this variable is, and stays
        # when a parent exits; the kill helper ends the members by it (see HELPERS["kill"])
        env[JOB_VARIABLE] = JOB_PREFIX + env["LABDECK_RUN_TOKEN"]
    invocations = []
    for match in _DETACHED_STEP_RE.finditer(launcher):
        kind, text, script = match.group(2), ps_unquote(match.group(3)), ps_unquote(match.group(4))
        prefix = f"LABDECK_SCRIPT={shlex.quote(str(map_path(script, root)))} " if script else ""
        if kind == "cmd":
            invocations.append(f"{prefix}/bin/sh -c {shlex.quote(detached_cmd_as_sh(text))}")
        else:  # powershell.exe with its stderr in a file: errors as CLIXML
            invocations.append(f"{prefix}{shlex.quote(sys.executable)} {shlex.quote(CLIXML_WRAPPER)} /bin/sh -c "
                               f"{shlex.quote(powershell_step_as_sh(text))}")
    return posix_detached.launcher_script(invocations, env)


def plan_detached(name: str, params: dict[str, str], root: Path) -> Plan:
    if name == "detached-start":
        folder = map_path(params["runDir"], root)
        launcher = (folder / "launch.ps1").read_text(encoding="utf-8-sig")
        (folder / "launch.sh").write_text(detached_launcher_as_sh(launcher, root))
        # Win32_Process.Create starts the launcher through the WMI service, outside the shell's job
        # (tests/support/wsman_server.py, Delete): it does not carry the shell's job variable
        return Plan(["env", "-u", "WSMAN_TEST_SHELL_JOB", "/bin/sh", "-c", posix_detached.start_command(str(folder))],
                    stdin_open=False)
    if name == "detached-status":
        pid = int(params["labdeckPid"]) if params["labdeckPid"] else None
        return Plan(["/bin/sh", "-c", posix_detached.status_script(str(map_path(params["runDir"], root)), pid)],
                    stdin_open=False)
    if name == "detached-cleanup":
        return Plan(["/bin/sh", "-c", posix_detached.cleanup_script(int(params["minutes"]))], stdin_open=False)
    if name == "detached-read":
        params["path"] = str(map_path(params["path"], root))
        return Plan([sys.executable, "-c", HELPERS[name], *[f"{k}={v}" for k, v in params.items()]])
    raise ValueError(f"no emulation for helper {name}")


HELPERS = {
    "detached-read": """
import base64, os, sys
args = dict(a.split('=', 1) for a in sys.argv[1:])
if os.path.exists(args['path']):
    with open(args['path'], 'rb') as f:
        f.seek(int(args['offset']))
        sys.stdout.write(base64.b64encode(f.read(int(args['limit']))).decode())
""",
    "upload": """
import base64, hashlib, os, sys
path = dict(a.split('=', 1) for a in sys.argv[1:])['path']
try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    f = open(path, 'wb')
except OSError as exc:
    sys.stderr.write(f'Exception calling "Create" with "1" argument(s): "{exc.strerror}: {path}"\\n')
    sys.exit(1)
digest = hashlib.sha256()
with f:
    for line in sys.stdin.buffer:
        line = line.strip()
        if line:
            data = base64.b64decode(line)
            f.write(data)
            digest.update(data)
print('sha256=' + digest.hexdigest())
""",
    "download": """
import base64, sys
path = dict(a.split('=', 1) for a in sys.argv[1:])['path']
try:
    f = open(path, 'rb')
except OSError as exc:
    sys.stderr.write(f"Exception calling OpenRead: {exc}\\n")
    sys.exit(1)
with f:
    for block in iter(lambda: f.read(49152), b''):
        print(base64.b64encode(block).decode())
""",
    "kill": """
import os, signal, sys, time
args = dict(a.split('=', 1) for a in sys.argv[1:])
pgid, wait = int(args['labdeckPid']), float(args['waitSeconds'])
def alive():
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                stat = open(f'/proc/{entry}/stat').read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(stat[2]) == pgid and stat[0] != 'Z':
                found.append(entry)
    return found
def members(name):  # a named Job Object's members: the processes carrying its variable
    entry, found = f'WSMAN_TEST_JOB={name}'.encode(), []
    for pid in (e for e in os.listdir('/proc') if e.isdigit() and int(e) != os.getpid()):
        try:
            if entry in open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0'):
                state = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
                if state != 'Z':
                    found.append(int(pid))
        except OSError:
            continue
    return found
job = args.get('jobName')
if job and members(job):  # TerminateJobObject: every member at once, then the job's count
    for pid in members(job):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    end = time.monotonic() + wait
    while members(job) and time.monotonic() < end:
        time.sleep(0.1)
    print(f'JOB {len(members(job))}')
try:
    os.killpg(pgid, signal.SIGKILL)
except ProcessLookupError:
    pass
end = time.monotonic() + wait
while alive() and time.monotonic() < end:
    time.sleep(0.1)
left = alive()
print('ALIVE ' + ','.join(left) if left else 'GONE')
""",
    "probe": """
import os, shutil, sys
total = free = 0
for line in open('/proc/meminfo'):
    if line.startswith('MemTotal:'): total = int(line.split()[1]) // 1024
    if line.startswith('MemAvailable:'): free = int(line.split()[1]) // 1024
disk = shutil.disk_usage(os.path.expanduser('~'))
print('os=Microsoft Windows (WS-Management test server)')
print('os_release=10.0.19045')
print('arch=AMD64')
print('hostname=' + os.uname().nodename)
print(f'cpus={os.cpu_count()}')
print('powershell=' + sys.argv[1].split('=', 1)[1])
print(f'memory_mb={total}')
print(f'memory_free_mb={free}')
print(f'disk_total_mb={disk.total // 1048576}')
print(f'disk_free_mb={disk.free // 1048576}')
print('gpus=0')
""",
    "preflight": """
import sys
for arg in sys.argv[1:]:
    print(arg)
""",
    "home": """
import sys
for arg in sys.argv[1:]:
    print(arg)
""",
}


def start(plan: Plan, root: Path, shell_env: dict[str, str]) -> subprocess.Popen:
    profile = root / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "HOME"} | shell_env | {"USERPROFILE": str(profile)} | plan.env
    return subprocess.Popen(plan.argv, stdin=subprocess.PIPE if plan.stdin_open else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=profile,
                            start_new_session=True)
