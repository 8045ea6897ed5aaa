"""The one-folder build (installer/build.py, the script the release workflow runs too) works on
this OS: the frozen executable passes its --self-test offscreen and under X, runs the headless
command line (locally, over SSH to a real sshd, and as far as WinRM goes without a keyring),
leaves out the parts of Qt LabDeck does not use, and its self-test notices a broken bundle. The
build runs once for the module (about 50 s here, nearly all of it PyInstaller's analysis)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "installer" / "build.py"
EXE_NAME = "labdeck-cli.exe" if sys.platform == "win32" else "labdeck"

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("frozen")
    started = time.monotonic()
    argv = [sys.executable, str(BUILD_SCRIPT), "--dist", str(out / "dist"), "--work", str(out / "work")]
    # A PyInstaller cache of its own (PYINSTALLER_CONFIG_DIR): builds running at the same time (other
    # checkouts' tests) never share one, where they could bundle each other's half-stripped files.
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1100, cwd=ROOT,
                            env=os.environ | {"PYINSTALLER_CONFIG_DIR": str(out / "pyinstaller-cache")})
    assert result.returncode == 0, f"build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    print(f"installer/build.py took {time.monotonic() - started:.0f} s")
    shutil.rmtree(out / "work", ignore_errors=True)
    shutil.rmtree(out / "pyinstaller-cache", ignore_errors=True)
    return out / "dist" / "labdeck"


def app_env(**extra: str) -> dict[str, str]:
    """The environment of a user's machine: no test keyring, no display unless given."""
    drop = {"PYTHON_KEYRING_BACKEND", "QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


def run_frozen(app: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run([str(app / EXE_NAME), *args], env=env or app_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_frozen_self_test_passes_offscreen(frozen_app):
    result = run_frozen(frozen_app, "--self-test")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "self-test — installed application" in out
    assert "Qt started with the 'offscreen' platform plugin" in out  # chosen by itself: no display here
    assert f"from {frozen_app}" in out  # the icons came from the bundle, not the source tree
    assert "keyring: backends [" in out and "keyring.backends.SecretService" in out
    assert "engine started (EngineProcess)" in out  # the bundle started itself as the engine's child process
    assert "nodes ['this-computer'], jobs ['hello']" in out
    assert "job 'hello' ran on this-computer: run succeeded, exit code 0" in out
    # bundled although imported lazily or by name: the Windows-node modules and tzdata's zones
    assert "ok    modules loaded on first use: paramiko, winrm" in out and "an NTLM negotiate message" in out
    assert "ok    time zones: Europe/Berlin is UTC+1 in winter, UTC+2 in summer" in out
    assert "ok    a local command with quotes and non-ASCII words: exit code 0" in out
    assert "FAIL" not in out and "self-test passed: 10 checks" in out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 applies to Linux")
def test_frozen_self_test_passes_on_a_real_x_server(frozen_app):
    assert shutil.which("xvfb-run"), "xvfb-run is needed (apt-get install xvfb xauth)"
    result = subprocess.run(["xvfb-run", "-a", str(frozen_app / EXE_NAME), "--self-test"], env=app_env(),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Qt started with the 'xcb' platform plugin" in result.stdout
    assert "self-test passed" in result.stdout


def test_frozen_command_line_runs_a_command(frozen_app, tmp_path):
    data = str(tmp_path / "data")
    result = run_frozen(frozen_app, "--data-dir", data, "exec", "--targets", "this-computer", "--", "echo", "frozen-ok")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 nodes succeeded" in result.stdout + result.stderr  # progress goes to stderr
    logs = run_frozen(frozen_app, "--data-dir", data, "logs", "1")
    assert "frozen-ok" in logs.stdout


def test_frozen_command_line_reaches_an_ssh_node(frozen_app, sshd_node, tmp_path):
    """paramiko and its native parts (cryptography, bcrypt, nacl) work from the bundle."""
    data = str(tmp_path / "data")
    added = run_frozen(frozen_app, "--data-dir", data, "node", "add", sshd_node.name, "--host", sshd_node.host,
                       "--port", str(sshd_node.port), "--user", sshd_node.user, "--key-file", str(sshd_node.key_file),
                       "--accept-host-key")
    assert added.returncode == 0, added.stdout + added.stderr
    result = run_frozen(frozen_app, "--data-dir", data, "exec", "--targets", sshd_node.name, "--", "echo", "over-ssh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "over-ssh" in run_frozen(frozen_app, "--data-dir", data, "logs", "1").stdout


def test_frozen_command_line_reaches_the_winrm_code(frozen_app, wsman_server, tmp_path):
    """pywinrm and requests import from the bundle and a WinRM node gets as far as its password.
    This machine has no OS keyring for the bundle to keep it in (keyring's null backend stands
    in), so the exchange with the WS-Management test server itself is covered by the source tests."""
    result = subprocess.run([str(frozen_app / EXE_NAME), "--data-dir", str(tmp_path / "data"), "node", "add", "win1",
                             "--transport", "winrm", "--host", wsman_server.host, "--port", str(wsman_server.port),
                             "--user", wsman_server.username, "--auth", "basic", "--password-stdin"],
                            input=wsman_server.password + "\n", capture_output=True, text=True, timeout=120,
                            env=app_env(PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"))
    assert result.returncode != 0
    assert f"/wsman): no password is saved for '{wsman_server.username}'" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr  # no ImportError or other bug from a missing module


def test_frozen_self_test_fails_when_the_bundle_lost_its_icons(frozen_app):
    resources = next(frozen_app.rglob("resources"))
    hidden = resources.with_name("resources-hidden")
    resources.rename(hidden)
    try:
        result = run_frozen(frozen_app, "--self-test")
    finally:
        hidden.rename(resources)
    assert result.returncode == 1
    assert "FAIL  icons:" in result.stdout and "self-test FAILED: 1 of 10 checks" in result.stdout


def test_bundle_has_what_labdeck_uses_and_not_the_rest_of_qt(frozen_app):
    files = [p.relative_to(frozen_app).as_posix() for p in frozen_app.rglob("*") if p.is_file()]
    names = "\n".join(files)
    for needed in ("plugins/platforms/libqxcb", "plugins/platforms/libqoffscreen", "libQt6Widgets",
                   "resources/labdeck-256.png", "resources/tray-failed-16.png", "keyring-"):
        assert needed in names, f"{needed} is missing from the bundle"
    for unused in ("translations/", "Qt6Quick", "Qt6Qml", "Qt6Pdf", "plugins/imageformats", "plugins/sqldrivers",
                   "plugins/tls", "qgtk3", "PySide6/QtQml", "tkinter", "invoke/", "setuptools/"):
        assert unused not in names, f"{unused} should have been left out of the bundle"
