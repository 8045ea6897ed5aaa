"""The self-test's checks of what a frozen build can silently lose: the modules Windows-node paths
import on first use, tzdata's time zones, and a local command with quotes and non-ASCII words."""

from __future__ import annotations

from labdeck.gui import self_test_platform
from labdeck.gui.self_test import Checks


def run(check, *args) -> tuple[list[str], Checks]:
    lines: list[str] = []
    checks = Checks(lines.append)
    check(checks, *args)
    return lines, checks


def test_the_three_checks_pass_here(tmp_path):
    lines, checks = run(self_test_platform.check_lazy_imports)
    assert checks.failed == [] and "winrm" in lines[0] and "an NTLM negotiate message" in lines[0]
    lines, checks = run(self_test_platform.check_time_zones)
    assert lines == ["  ok    time zones: Europe/Berlin is UTC+1 in winter, UTC+2 in summer; tzdata's zones present: True"]
    lines, checks = run(self_test_platform.check_local_command, tmp_path)
    assert checks.failed == [] and "Grüße aus LabDeck, 한국어" in lines[0]


def test_a_module_missing_from_the_bundle_fails_the_self_test(monkeypatch):
    monkeypatch.setattr(self_test_platform, "LAZY_MODULES", ["winrm", "labdeck_not_bundled"])
    lines, checks = run(self_test_platform.check_lazy_imports)
    assert len(checks.failed) == 1 and "missing: labdeck_not_bundled (ModuleNotFoundError" in lines[0]
