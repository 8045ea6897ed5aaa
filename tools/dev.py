#!/usr/bin/env python3
"""Set up a development environment and start LabDeck or run its tests.

    python3 tools/dev.py run     install what the app needs into .venv and start it
    python3 tools/dev.py test    install what the tests need (system packages too), check the CI workflows
                                 offline, run the linters, and run the tests
    python3 tools/dev.py lint    ruff and mypy only (what `test` runs before the tests)

Works with any Python 3 as the launcher; LabDeck itself needs 3.12 or newer, which this
script finds (python3.13, python3.12, py -3.12, pyenv's versions) to create .venv.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
MIN_PYTHON = (3, 12)
# What the tests use from the system: real sshd nodes, Qt's xcb plugin under Xvfb, network namespaces,
# binutils for PyInstaller's frozen build (objdump).
# What Qt's xcb platform plugin needs beyond a desktop's usual libraries (Qt 6.5+ wants xcb-cursor).
APP_DEBIAN_PACKAGES = ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libegl1",
                       "libgl1", "libfontconfig1", "libdbus-1-3"]
TEST_DEBIAN_PACKAGES = ["openssh-server", "openssh-client", "xvfb", "xauth", "libxcb-icccm4", "libxcb-keysyms1",
                        "libxcb-cursor0", "libxcb-xinerama0", "libxkbcommon-x11-0", "libegl1", "libgl1",
                        "libfontconfig1", "libdbus-1-3", "iproute2", "procps", "binutils",
                        "samba", "smbclient",
                        "sudo",  # a root process the login cannot kill (tests/integration/test_escaped_processes.py)
                        "slurm-wlm", "munge"]  # a real single-host Slurm cluster (tests/support/slurm.py)


TEST_WORKERS = 4


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, **kwargs)
    if result.returncode != 0:
        sys.exit(f"[dev] failed ({result.returncode}): {' '.join(map(str, argv))}")


def python_version(exe: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    return (int(parts[0]), int(parts[1])) if out.returncode == 0 and len(parts) == 2 else None


def find_python() -> str:
    candidates = [sys.executable, "python3.14", "python3.13", "python3.12", "python3"]
    home = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(home / "versions" / "3.1[2-9]*" / "bin" / "python3")), reverse=True)
    for candidate in candidates:
        exe = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        version = exe and python_version(exe)
        if version and version >= MIN_PYTHON:
            return exe
    if shutil.which("py"):
        for minor in (14, 13, 12):
            if python_version_py(minor):
                return f"py -3.{minor}"
    sys.exit("[dev] LabDeck needs Python 3.12 or newer and none was found; install one "
             "(python.org, your package manager, or `pyenv install 3.12`) and run this again")


def python_version_py(minor: int) -> bool:
    return subprocess.run(["py", f"-3.{minor}", "-c", "pass"], capture_output=True).returncode == 0


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(extras: str) -> Path:
    py = venv_python()
    if not py.exists() or (python_version(str(py)) or (0, 0)) < MIN_PYTHON:
        base = find_python()
        say(f"creating {VENV.name} with {base}")
        if VENV.exists():
            shutil.rmtree(VENV)
        run([*base.split(), "-m", "venv", str(VENV)])
    say(f"installing LabDeck{extras} into {VENV.name}")
    run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"])
    run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f".{extras}"], cwd=ROOT)
    return py


def ensure_debian_packages(packages: list[str]) -> None:
    if not sys.platform.startswith("linux") or not shutil.which("dpkg-query"):
        return
    status = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
                            capture_output=True, text=True).stdout
    installed = {line.split()[0] for line in status.splitlines() if len(line.split()) > 1 and line.split()[1] == "ii"}
    missing = [p for p in packages if p not in installed]
    if not missing:
        return
    prefix = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else None)
    if prefix is None:
        sys.exit(f"[dev] these system packages are needed: {' '.join(missing)}; "
                 "install them as root and run this again")
    say(f"installing system packages: {' '.join(missing)}")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    run([*prefix, "apt-get", "update", "-qq"], env=env)
    run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env,
        stdout=subprocess.DEVNULL)


def cmd_run(args: list[str]) -> int:
    ensure_debian_packages(APP_DEBIAN_PACKAGES)
    py = ensure_venv("[gui]")
    say("starting LabDeck")
    return subprocess.call([str(py), "-m", "labdeck.cli", *args], cwd=ROOT)


def venv_tool(name: str) -> str:
    """A tool the test extra installs: from .venv, else from the running Python's (CI without .venv)."""
    for folder in (venv_python().parent, Path(sys.executable).parent):
        found = shutil.which(name, path=str(folder))
        if found:
            return found
    return shutil.which(name) or name


def check_workflows(workflows: list[str] | None = None) -> bool:
    """Every GitHub workflow checked offline, so a broken one fails here rather than on GitHub:
    its schema (check-jsonschema ships the workflow schema) and zizmor's security audit (actions
    pinned by hash, no template injection, least permissions)."""
    if workflows is None:
        workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))
    if not workflows:
        return True
    say(f"checking {len(workflows)} workflow file(s) offline")
    checks = [("schema", [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows]),
              ("zizmor", [venv_tool("zizmor"), "--offline", "--quiet", *workflows])]
    ok = True
    for name, argv in checks:
        result = subprocess.run(argv, cwd=ROOT)
        if result.returncode != 0:
            print(f"[dev] FAILED: the workflow {name} check found problems (above) in {', '.join(workflows)}; "
                  "fix them before the tests run", flush=True)
            ok = False
    return ok


# The linters, configured in pyproject.toml ([tool.ruff], [tool.mypy]); one line per finding.
LINTERS = [("ruff", ["ruff", "check", "--output-format", "concise", "--no-cache", "."]),
           ("mypy", ["mypy", "--no-error-summary", "--no-incremental", "--hide-error-context"])]


def check_lint() -> bool:
    """ruff over the repository and mypy over core/, store/, engine/, executors/; a finding fails."""
    ok = True
    for name, argv in LINTERS:
        say(f"{name}")
        result = subprocess.run([venv_tool(argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True)
        findings = [line for line in (result.stdout + result.stderr).splitlines()
                    if line.strip() and not line.startswith(("All checks passed", "Success:", "Found "))]
        for line in findings:
            print(f"[dev] {name}: {line}", flush=True)
        if result.returncode != 0:
            print(f"[dev] FAILED: {name} found {len(findings)} problem(s) (above); fix them before the tests run",
                  flush=True)
            ok = False
    return ok


def cmd_lint(args: list[str]) -> int:
    ensure_venv("[test]")
    return 0 if check_lint() else 1


def cmd_test(args: list[str]) -> int:
    ensure_debian_packages(TEST_DEBIAN_PACKAGES)
    py = ensure_venv("[test]")
    if not check_workflows():
        return 1
    if not check_lint():
        return 1
    say("running the tests")
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    # The whole suite runs in parallel workers (most tests wait on clocks, servers and remote
    # commands, not on the CPU); a run of chosen tests stays in one process unless -n is given.
    # One worker per test file: a module's fixtures (the frozen app's build) are made once. Files
    # are handed out in the order tests/conftest.py puts them (those with slow tests first).
    parallel = [] if args else ["-n", str(TEST_WORKERS), "--dist", "loadfile", "--no-loadscope-reorder"]
    return subprocess.call([str(py), "-m", "pytest", *parallel, *args], cwd=ROOT, env=env)


def main() -> int:
    commands = {"run": cmd_run, "test": cmd_test, "lint": cmd_lint}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
