"""The node importers' parsers on realistic inventories (tests/data/inventories: comments,
includes, odd spacing, unicode, CRLF) and on broken ones (one error naming file and line)."""

from __future__ import annotations

import getpass
import shutil
from pathlib import Path

import pytest

from labdeck.core.models import Transport
from labdeck.importers import InventoryError, parse_inventory

DATA = Path(__file__).resolve().parents[1] / "data" / "inventories"


def by_name(candidates):
    return {c.node.name: c for c in candidates}


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(DATA / "ssh", home / ".ssh")
    monkeypatch.setenv("HOME", str(home))
    return home


# ---- ssh config ------------------------------------------------------------------------

def test_ssh_config_first_value_wins_wildcards_fill_in_and_include_is_relative_to_dot_ssh(home):
    nodes = by_name(parse_inventory(home / ".ssh" / "config"))
    assert list(nodes) == ["render-ü", "gateway", "gpu01", "gpu02", "storage", "legacy"]
    gpu01, gpu02 = nodes["gpu01"].node, nodes["gpu02"].node
    # The first block that names gpu01 sets HostName and IdentityFile; the second sets User
    # and Port; the wildcard block's User and Port come too late for it.
    assert (gpu01.host, gpu01.username, gpu01.port) == ("gpu01.lab.internal", "alice", 2222)
    assert gpu01.key_file == str(home / ".ssh" / "lab_ed25519")
    assert (gpu02.host, gpu02.username, gpu02.port) == ("gpu02.lab.internal", "labuser", None)
    assert nodes["gpu01"].via == ["gateway"] and nodes["gpu02"].via == ["gateway"]
    gateway = nodes["gateway"].node
    assert (gateway.host, gateway.username, gateway.port) == ("bastion.lab.example", "jump", 2200)
    assert gateway.key_file == str(home / ".ssh" / "id_ed25519")  # from the wildcard block; comment dropped
    storage = nodes["storage"].node  # Host=, quoted pattern, a negated pattern, "Key = value"
    assert (storage.host, storage.username) == ("10.0.0.40", "backup")
    assert nodes["render-ü"].node.host == "render.lab.internal"  # from conf.d/*.conf
    assert nodes["render-ü"].source.endswith("10-printers.conf:2")
    assert any("ProxyCommand" in note for note in nodes["legacy"].notes)
    assert all(c.node.transport is Transport.SSH for c in nodes.values())


def test_ssh_config_include_inside_a_block_that_does_not_apply_never_matches(home):
    (home / ".ssh" / "extra").write_text("Host *\n  User from-include\n")
    config = home / ".ssh" / "cfg"
    config.write_text("Host other\n  Include extra\nHost box\n  HostName 10.1.1.1\n")
    box = by_name(parse_inventory(config, "ssh-config"))["box"].node
    assert box.username == getpass.getuser()  # OpenSSH's default; the included User never applied


def test_ssh_config_windows_paths_keep_their_backslashes(home):
    config = home / ".ssh" / "win"
    config.write_text("Host pc\r\n  HostName pc.lab\r\n  IdentityFile C:\\Users\\me\\.ssh\\id_lab\r\n  User me\r\n")
    assert by_name(parse_inventory(config, "ssh-config"))["pc"].node.key_file == "C:\\Users\\me\\.ssh\\id_lab"


@pytest.mark.parametrize("text, line, reason", [
    ("Host a\n  HostName 'unclosed\n", 2, "unterminated quote"),
    ("Host a\n  User x\nHost\n", 3, "Host needs at least one pattern"),
    ("Host a\n  HostName h\n  Port twenty\n", 3, "port 'twenty' is not a number"),
    ("Host a\n  Port 70000\n", 2, "out of range"),
    ("Host a\n  -oops value\n", 2, "not an ssh_config keyword"),
])
def test_broken_ssh_config_names_the_line_and_the_reason(home, text, line, reason):
    config = home / ".ssh" / "broken"
    config.write_text(text)
    with pytest.raises(InventoryError, match=rf"broken:{line}: .*{reason}"):
        parse_inventory(config, "ssh-config")


# ---- Ansible -----------------------------------------------------------------------------

def test_ansible_ini_groups_children_vars_ranges_and_winrm():
    raw = (DATA / "lab.ini").read_bytes()
    assert b"\r\n" in raw and "München".encode() in raw
    nodes = by_name(parse_inventory(DATA / "lab.ini"))
    assert list(nodes) == ["gpu01", "gpu02", "gpu03", "gpu04", "gpu-spare", "win-a", "win-b"]
    gpu03 = nodes["gpu03"].node
    assert (gpu03.host, gpu03.username, gpu03.port, gpu03.tags) == ("gpu03", "trainer", None, ["gpus", "lab"])
    assert gpu03.key_file == "~/.ssh/lab_ed25519"  # a parent group's var
    assert gpu03.attributes == {"site": "München"}
    spare = nodes["gpu-spare"].node  # trailing comment, two spaces
    assert (spare.host, spare.port) == ("10.0.1.99", 2201)
    assert any("ansible_user" in n for n in nodes["gpu-spare"].notes)  # the local user, said so
    win_b = nodes["win-b"].node
    assert win_b.transport is Transport.WINRM
    assert (win_b.host, win_b.port, win_b.username) == ("10.0.2.11", 5986, "trainer@LAB.EXAMPLE")
    assert (win_b.winrm.auth, win_b.winrm.https, win_b.winrm.verify_cert) == ("ntlm", True, False)
    assert win_b.tags == ["lab", "windows"]


def test_ansible_yaml_nested_children_inherit_tags_and_vars():
    nodes = by_name(parse_inventory(DATA / "lab.yml"))
    assert set(nodes) == {"head", "gpu01", "gpu02", "gpu03", "gpu-x", "win-a"}
    assert nodes["head"].node.tags == [] and nodes["head"].node.host == "10.0.0.1"
    gpu_x = nodes["gpu-x"].node
    assert gpu_x.tags == ["gpus", "training"]
    assert (gpu_x.port, gpu_x.username, gpu_x.key_file) == (2222, "trainer", "~/.ssh/gpu_key")
    assert gpu_x.attributes == {"rack": "B-7 (östlich)"}
    win = nodes["win-a"].node
    assert win.transport is Transport.WINRM
    assert (win.winrm.auth, win.winrm.https, win.port) == ("basic", False, 5985)  # http: the port is 5985


def test_group_vars_deeper_group_wins_over_its_parent(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_text("[all:vars]\nansible_user=everyone\n[parent:children]\nchild\n[parent:vars]\nansible_user=p\n"
                   "[child]\nbox\n[child:vars]\nansible_user=c\n")
    assert parse_inventory(inv, "ansible")[0].node.username == "c"


@pytest.mark.parametrize("name, text, line, reason", [
    ("secret.ini", "[gpus]\ngpu1\n[gpus:vars]\nansible_user=x\nansible_password=hunter2\n", 5,
     "secret from 'ansible_password'.*--password-stdin"),
    ("hostpass.ini", "[w]\nw1 ansible_connection=winrm ansible_winrm_password=x ansible_user=u\n", 2,
     "--password-stdin"),
    ("range.ini", "[g]\ngpu[08:01]\n", 2, "empty"),
    ("range2.ini", "[g]\ngpu[1-8]\n", 2, r"not \[start:end\]"),
    ("header.ini", "[g\nbox\n", 1, "not a section header"),
    ("conn.ini", "[g]\nbox ansible_connection=docker\n", 2, "docker is not supported"),
    ("kv.ini", "[g]\nbox ansible_user\n", 2, "is not NAME=VALUE"),
    ("vault.yml", "all:\n  hosts:\n    box:\n      ansible_user: x\n      ansible_become_password: !vault |\n"
                  "          $ANSIBLE_VAULT;1.1;AES256\n          6162\n", 5, "secret"),
    ("syntax.yml", "all:\n  hosts:\n\tbox:\n", 3, "not valid YAML.*tab"),
    ("typo.yml", "all:\n  host:\n    box:\n", 2, "did you mean 'hosts'"),
    ("loop.ini", "[a:children]\nb\n[b:children]\na\n", 1, "its own ancestor"),
])
def test_broken_ansible_inventory_names_the_line_and_the_reason(tmp_path, name, text, line, reason):
    inv = tmp_path / name
    inv.write_text(text)
    with pytest.raises(InventoryError, match=rf"{name}:{line}: .*{reason}"):
        parse_inventory(inv, "ansible")


# ---- CSV -----------------------------------------------------------------------------------

def test_csv_with_header_crlf_comments_and_unicode():
    assert b"\r\n" in (DATA / "nodes.csv").read_bytes()
    nodes = by_name(parse_inventory(DATA / "nodes.csv"))
    assert list(nodes) == ["render01", "render02", "win-ü"]
    r1, r2, win = nodes["render01"].node, nodes["render02"].node, nodes["win-ü"].node
    assert (r1.host, r1.port, r1.tags, r1.key_file) == ("10.0.3.1", None, ["render", "gpu"], "~/.ssh/render")
    assert (r2.port, r2.tags, r2.key_file) == (2222, ["render", "gpu"], None)
    assert win.transport is Transport.WINRM and win.username == "LAB\\render"
    assert nodes["render02"].source.endswith("nodes.csv:4")


@pytest.mark.parametrize("text, line, reason", [
    ("name,host,usr\nbox,h,u\n", 1, "unknown column 'usr' .did you mean 'user'"),
    ("name,host,password\nbox,h,pw\n", 1, "--password-stdin"),
    ("name,host,port\nbox,h,22\nbox2,h,abc\n", 3, "port 'abc' is not a number"),
    ("name,host\nbox,h,extra\n", 2, "3 cells but the header has 2"),
    ("name,host,transport\nbox,h,telnet\n", 2, "transport 'telnet'"),
    ("host,user\nh,u\n", 1, "no 'name' column"),
])
def test_broken_csv_names_the_line_and_the_reason(tmp_path, text, line, reason):
    inv = tmp_path / "nodes.csv"
    inv.write_text(text)
    with pytest.raises(InventoryError, match=rf"nodes.csv:{line}: .*{reason}"):
        parse_inventory(inv)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    inv = tmp_path / "hosts.ini"
    inv.write_bytes(b"[g]\nbox\nb\xe4ckerei\n")  # Latin-1
    with pytest.raises(InventoryError, match=r"hosts.ini:3: not UTF-8"):
        parse_inventory(inv)


def test_utf16_with_bom_is_read(tmp_path):
    inv = tmp_path / "nodes.csv"
    inv.write_bytes("name,host,user\r\nbox,10.0.0.5,me\r\n".encode("utf-16"))
    assert parse_inventory(inv)[0].node.host == "10.0.0.5"
