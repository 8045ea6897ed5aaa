"""``labdeck node add --transport winrm`` and friends, as a user runs them against the
WS-Management test server."""

from __future__ import annotations

import json

from tests.support.cli import add_winrm, labdeck


def test_add_list_test_and_exec_on_a_winrm_node(data_dir, wsman_server):
    added = add_winrm(data_dir, wsman_server, "--tag", "win")
    assert added.returncode == 0, added.stderr
    assert "added node 'win1' (Microsoft Windows" in added.stdout

    nodes = {n["name"]: n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)}
    assert nodes["win1"]["transport"] == "winrm"
    assert nodes["win1"]["winrm"] == {"auth": "basic", "https": False, "verify_cert": True, "shell": "cmd",
                                      "smb": False, "smb_share": "C$", "smb_port": 445, "smb_share_root": "",
                                      "smb_home": ""}
    assert nodes["win1"]["os_family"] == "windows"

    tested = labdeck(data_dir, "node", "test", "win1")
    assert tested.returncode == 0, tested.stderr
    assert "ok   MaxShellsPerUser: 30" in tested.stdout
    assert "FIX  reachable" not in tested.stdout and "basic auth over HTTP" in tested.stdout

    ran = labdeck(data_dir, "exec", "--targets", "tag:win", "--json", "--", "echo", "from-windows")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["nodes"][0]["status"] == "succeeded"


def test_wrong_password_is_one_clear_line_and_nothing_is_saved(data_dir, wsman_server):
    result = add_winrm(data_dir, wsman_server, password="wrong-password")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "login as 'labuser' (basic) was refused" in lines[0]
    names = [n["name"] for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)]
    assert "win1" not in names


def test_winrm_flags_are_checked(data_dir, wsman_server):
    result = add_winrm(data_dir, wsman_server, "--no-verify-cert")
    assert result.returncode != 0 and "--no-verify-cert only applies with --https" in result.stderr
    ssh = labdeck(data_dir, "node", "add", "x", "--host", "h", "--user", "u", "--https")
    assert ssh.returncode != 0 and "for --transport winrm" in ssh.stderr


def test_prepare_windows_prints_the_setup_powershell(data_dir):
    result = labdeck(data_dir, "node", "prepare-windows", "--allow", "10.0.0.0/24")
    assert result.returncode == 0, result.stderr
    assert "Enable-PSRemoting -Force" in result.stdout and "-RemoteAddress 10.0.0.0/24" in result.stdout
    bad = labdeck(data_dir, "node", "prepare-windows", "--allow", "x; Remove-Item C:\\")
    assert bad.returncode != 0 and "not an address" in bad.stderr
