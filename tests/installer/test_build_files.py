"""The build's own pieces, checked without building: the Windows version resource from the
package version, which Qt files the bundle keeps on each OS, the release workflow (valid, both
OSes, the same build script as `.ci/run`) and the installer script's names matching the spec."""

from __future__ import annotations

import re
from pathlib import Path

import PyInstaller
import pytest
import yaml
from installer.qt_prune import keep
from installer.version_info import numeric_version, read_version, write_version_file

from labdeck import __version__

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "installer" / "build.py"
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def test_version_is_read_from_the_package():
    assert read_version() == __version__


@pytest.mark.parametrize("version, numbers", [("0.1.0", (0, 1, 0, 0)), ("2.10", (2, 10, 0, 0)),
                                              ("1.2.3.4.5", (1, 2, 3, 4)), ("0.4.0rc1", (0, 4, 0, 0)),
                                              ("3.0.dev7", (3, 0, 0, 0))])
def test_windows_version_numbers(version, numbers):
    assert numeric_version(version) == numbers


def test_windows_version_file_is_what_pyinstaller_reads(tmp_path):
    """PyInstaller eval()s the file with its version-resource classes in scope (they import only on
    Windows, where the release build uses the file); here the same names rebuild the values."""
    path = Path(write_version_file("1.4.2", "LabDeck.exe", tmp_path))
    pyinstaller_source = (Path(PyInstaller.__file__).parent / "utils" / "win32" / "versioninfo.py").read_text()
    built = {}

    def recorder(name):
        if f"class {name}" not in pyinstaller_source:
            raise AssertionError(f"PyInstaller has no {name}")
        return lambda *args, **kwargs: built.setdefault(name, []).append((args, kwargs)) or (name, args, kwargs)

    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct", "VarFileInfo",
             "VarStruct")
    eval(path.read_text(encoding="utf-8"), {name: recorder(name) for name in names})  # noqa: S307 (our own file)
    assert built["FixedFileInfo"][0][1]["filevers"] == (1, 4, 2, 0)
    strings = dict(args for args, _kw in built["StringStruct"])
    assert strings["ProductVersion"] == "1.4.2" and strings["OriginalFilename"] == "LabDeck.exe"


@pytest.mark.parametrize("dest, kept", [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
    ("PySide6/plugins/platforms/qwindows.dll", True),
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", True),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
    ("PySide6/plugins/styles/qmodernwindowsstyle.dll", True),
    ("PySide6/plugins/imageformats/qsvg.dll", False),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
    ("PySide6/Qt/translations/qtbase_de.qm", False),
    ("PySide6/translations/qtbase_de.qm", False),
    ("PySide6/Qt/lib/libQt6Quick.so.6", False),
    ("PySide6/Qt6Pdf.dll", False),
    ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
    ("PySide6/Qt6Network.dll", True),
    ("PySide6/opengl32sw.dll", False),
    ("PySide6/Qt/lib/libicudata.so.73", True),
    ("PySide6\\plugins\\platforms\\qoffscreen.dll", True),
    ("keyring-25.7.0.dist-info/entry_points.txt", True),
])
def test_bundle_keeps_only_the_qt_parts_labdeck_uses(dest, kept):
    assert keep(dest) is kept


def test_release_workflow_builds_both_oses_with_the_ci_build_script():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["build"]
    assert set(job["strategy"]["matrix"]["os"]) == {"windows-latest", "ubuntu-latest"}
    assert job["runs-on"] == "${{ matrix.os }}"
    runs = [step.get("run", "") for step in job["steps"]]
    build = [r for r in runs if "build.py" in r]
    assert build == ["python installer/build.py --self-test --archive"]
    assert (ROOT / build[0].split()[1]) == BUILD_SCRIPT  # the script .ci/run's test builds with
    uploads = [step["with"]["path"] for step in job["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact")]
    assert any("setup.exe" in p for p in uploads) and any("LabDeck-*.tar.gz" in p for p in uploads)


def test_installer_script_matches_the_spec_and_the_data_folder():
    iss = (ROOT / "installer" / "labdeck.iss").read_text(encoding="utf-8")
    spec = (ROOT / "installer" / "labdeck.spec").read_text(encoding="utf-8")
    exe = re.search(r'#define AppExeName "([^"]+)"', iss).group(1)
    assert exe == "LabDeck.exe" and 'executable("LabDeck", False)' in spec  # the windowed one gets the shortcuts
    # platformdirs.user_data_dir("LabDeck", appauthor=False) on Windows is %LOCALAPPDATA%\LabDeck
    assert '#define DataDir "{localappdata}\\LabDeck"' in iss
    assert "MB_DEFBUTTON2" in iss and "UninstallSilent" in iss  # keeping the data is the default
    assert (ROOT / "resources" / "labdeck.ico").is_file()


def test_the_bundle_carries_every_executor_the_registry_imports_by_name():
    spec = (ROOT / "installer" / "labdeck.spec").read_text(encoding="utf-8")
    assert 'hidden += collect_submodules("labdeck.executors")' in spec


def test_autostart_opens_in_the_tray_from_the_signed_in_users_startup_folder():
    iss = (ROOT / "installer" / "labdeck.iss").read_text(encoding="utf-8")
    startup = [line for line in iss.splitlines() if "Tasks: startup" in line]
    assert startup == ['Name: "{userstartup}\\{#AppName}"; Filename: "{app}\\{#AppExeName}"; '
                       'Parameters: "--minimized"; Tasks: startup; Check: not IsAdminInstallMode']
    task = next(line for line in iss.splitlines() if line.startswith('Name: "startup"'))
    assert "Check: not IsAdminInstallMode" in task  # an elevated install would use the administrator's folder


WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def test_every_workflow_pins_its_actions_and_reads_only():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert workflow["permissions"] == {"contents": "read"}, path.name
        text = path.read_text(encoding="utf-8")
        uses = [line.split("uses:", 1)[1].strip() for line in text.splitlines() if "uses:" in line]
        assert uses and all(PINNED.match(u) for u in uses), (path.name, uses)
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, path.name


def test_the_windows_job_runs_the_windows_tests_and_the_frozen_self_test():
    job = yaml.safe_load((WORKFLOWS / "windows.yml").read_text(encoding="utf-8"))["jobs"]["windows"]
    assert job["runs-on"] == "windows-latest"
    runs = " ".join(step.get("run", "") for step in job["steps"])
    assert "python installer/build.py --self-test" in runs and "LabDeck.exe" in runs
    listed = [word for word in runs.split() if word.startswith("tests/")]
    assert "tests/unit/test_windows_local.py" in listed and "tests/unit/test_windows_desk.py" in listed
    assert all((ROOT / name).is_file() for name in listed), listed


def test_every_test_that_needs_windows_runs_in_a_windows_job():
    """A test that skips off Windows must be run by a windows-latest job, or it runs nowhere."""
    listed = " ".join(path.read_text(encoding="utf-8") for path in WORKFLOWS.glob("windows*.yml"))
    windows_only = re.compile(r"skipif\(\s*(sys\.platform\s*!=\s*[\"']win32|os\.name\s*!=\s*[\"']nt|not IS_WINDOWS)")
    needing = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")
                     if windows_only.search(path.read_text(encoding="utf-8")))
    assert needing, "the pattern finds the Windows-only tests"
    assert [name for name in needing if name not in listed] == []


def test_the_offline_workflow_checks_pass_here_and_catch_an_unpinned_action(tmp_path, capsys):
    import tools.dev as dev
    assert dev.check_workflows()
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "windows.yml").read_text(encoding="utf-8").replace(
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@v4"), encoding="utf-8")
    assert not dev.check_workflows([str(broken)])
    assert "[dev] FAILED: the workflow zizmor check found problems" in capsys.readouterr().out
