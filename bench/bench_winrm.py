"""WinRM: a warm command through LabDeck's reused shell against pywinrm's ``Session.run_cmd``,
both against the WS-Management test server (tests/support/wsman_server.py), in the same run.

    /tmp/venv/bin/python -m bench.bench_winrm [--iterations 200] [--auth basic|ntlm]

1. warm -- ``WinrmExecutor.run`` of the step ``true`` on a node whose shell is already open
           (after one warm-up run), versus ``Session.run_cmd("true")``, which opens a shell,
           runs the command, receives, signals and deletes the shell (and drops the HTTP
           connection) every time. Interleaved in blocks of 20. Target: LabDeck <= 0.5x (median).
           The node is probed first, as LabDeck does when a node is added: it reports
           PowerShell 5, so steps skip the stdin-closing Send only PowerShell 2.0 needs.

With ``--auth ntlm`` (WinRM's default) the server does Windows' NTLM login and seals every
message (tests/support/wsman_auth.py), and both clients use pywinrm's NTLM transport with its
default message encryption; ``run_cmd`` then logs in again for every command, as its dropped
connection needs a new login.

The test server runs in a process of its own (as a node would be another machine) and runs
both commands with /bin/sh, so process start-up is in both figures; on a real Windows node
creating a shell costs far more than here, so the ratio here understates the gain.

LabDeck sends the terminate Signal for a finished command from a background thread once the
node is idle (executors/winrm_release.py); after each block of LabDeck runs the bench waits for
those (untimed), so they do not land in pywinrm's block. Always exits 0: a report, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import winrm  # noqa: E402

from bench.report import NOTES, ROWS, Row, pct, print_table  # noqa: E402
from labdeck.executors.base import CommandRequest, Deadline  # noqa: E402
from labdeck.executors.winrm.executor import WinrmExecutor  # noqa: E402
from labdeck.executors.winrm.session import WinrmTarget  # noqa: E402
from tests.support.wsman_server import WsmanServer  # noqa: E402 - for its default user and password

BLOCK = 20


def labdeck_once(executor: WinrmExecutor) -> float:
    started = time.perf_counter()
    result = executor.run(CommandRequest(command="true"), lambda _n, _d: None, Deadline.after(30), threading.Event())
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result
    return elapsed


def pywinrm_once(session: winrm.Session) -> float:
    started = time.perf_counter()
    response = session.run_cmd("true")
    elapsed = time.perf_counter() - started
    assert response.status_code == 0, response
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--auth", choices=("basic", "ntlm"), default="basic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-winrm-") as tmp:
        server_auth = "negotiate" if args.auth == "ntlm" else "basic"
        server = subprocess.Popen([sys.executable, "-m", "tests.support.wsman_server", tmp, server_auth], cwd=REPO_ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = int(server.stdout.readline())
        user, password = WsmanServer(Path(tmp)).username, WsmanServer(Path(tmp)).password
        target = WinrmTarget("bench", "127.0.0.1", port, user, password, auth=args.auth)
        executor = WinrmExecutor(target)
        session = winrm.Session(f"http://127.0.0.1:{port}/wsman", auth=(user, password), transport=args.auth)
        try:
            executor.probe()  # as when a node is added or tested: it also says which PowerShell the node has
            labdeck_once(executor)  # opens the shell that the measured runs reuse
            pywinrm_once(session)
            ours: list[float] = []
            theirs: list[float] = []
            while len(ours) < args.iterations:
                ours += [labdeck_once(executor) for _ in range(BLOCK)]
                executor.pool.releaser.flush()  # the deferred Signals, sent before the other side's block
                theirs += [pywinrm_once(session) for _ in range(BLOCK)]
        finally:
            executor.close()
            server.stdin.close()
            server.wait(timeout=30)
    ours_ms, theirs_ms = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    ratio = ours_ms / theirs_ms
    ROWS.append(Row(f"warm command, {args.auth} (median)", f"{ours_ms:.2f} ms", f"{theirs_ms:.2f} ms", f"{ratio:.2f}x",
                    "<= 0.5x", ratio <= 0.5))
    ROWS.append(Row(f"warm command, {args.auth} (p90)", f"{pct(ours, 0.9) * 1000:.2f} ms",
                    f"{pct(theirs, 0.9) * 1000:.2f} ms",
                    f"{pct(ours, 0.9) / pct(theirs, 0.9):.2f}x", "-", None))
    NOTES.append(f"{len(ours)} runs each, interleaved in blocks of {BLOCK}; LabDeck opened one shell, "
                 f"run_cmd opened {len(theirs) + 1}")
    print_table("pywinrm run_cmd")
    return 0


if __name__ == "__main__":
    sys.exit(main())
