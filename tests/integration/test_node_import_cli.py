"""``labdeck node import`` as a user runs it, against real sshd nodes: host keys shown and
confirmed, every node logged in to, all or nothing, existing names kept unless --replace."""

from __future__ import annotations

import json

from tests.integration.test_cli import labdeck


def ssh_config(path, nodes, extra: str = "") -> None:
    blocks = [f"Host {n.name}\n  HostName {n.host}\n  Port {n.port}\n" for n in nodes]
    path.write_text("# the lab\n" + "\n".join(blocks) + extra +
                    f"\nHost *\n  User {nodes[0].user}\n  IdentityFile {nodes[0].key_file}\n")


def node_names(data_dir) -> list[str]:
    return [n["name"] for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)]


def test_ssh_config_import_shows_host_keys_and_imports_only_when_they_are_accepted(data_dir, sshd_nodes, tmp_path):
    nodes = sshd_nodes(2)
    config = tmp_path / "config"
    ssh_config(config, nodes)

    dry = labdeck(data_dir, "node", "import", str(config), "--dry-run", "--tag", "lab")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: 2 nodes would be imported" in dry.stdout and nodes[1].name in dry.stdout
    assert node_names(data_dir) == ["this-computer"]

    # Not a terminal and no --accept-host-keys: the keys are shown, nothing is imported.
    refused = labdeck(data_dir, "node", "import", str(config), "--tag", "lab")
    assert refused.returncode == 2
    for sshd in nodes:
        assert f"{sshd.name}: ssh-ed25519 {sshd.host_key_fingerprint}" in refused.stdout
    assert "--accept-host-keys" in refused.stderr
    assert node_names(data_dir) == ["this-computer"]

    done = labdeck(data_dir, "node", "import", str(config), "--tag", "lab", "--accept-host-keys")
    assert done.returncode == 0, done.stderr
    assert "imported 2 nodes" in done.stdout
    listed = {n["name"]: n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)}
    for sshd in nodes:
        assert listed[sshd.name]["tags"] == ["lab"] and listed[sshd.name]["port"] == sshd.port
        assert listed[sshd.name]["os_family"] == "linux"  # probed after the import
    run = labdeck(data_dir, "exec", "--targets", "tag:lab", "--json", "--", "echo", "imported-ok")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "succeeded"


def test_existing_names_are_kept_unless_replace(data_dir, sshd_nodes, tmp_path):
    (sshd,) = sshd_nodes(1)
    config = tmp_path / "config"
    ssh_config(config, [sshd])
    assert labdeck(data_dir, "node", "import", str(config), "--accept-host-keys").returncode == 0

    again = labdeck(data_dir, "node", "import", str(config), "--tag", "new", "--accept-host-keys")
    assert again.returncode == 0, again.stderr
    assert "exists: kept" in again.stdout and "nothing to import" in again.stdout
    node = next(n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout) if n["name"] == sshd.name)
    assert node["tags"] == []

    replaced = labdeck(data_dir, "node", "import", str(config), "--tag", "new", "--replace", "--accept-host-keys")
    assert replaced.returncode == 0, replaced.stderr
    node = next(n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout) if n["name"] == sshd.name)
    assert node["tags"] == ["new"] and node["os_family"] == "linux"


def test_one_node_that_refuses_the_login_means_nothing_is_imported(data_dir, sshd_nodes, tmp_path):
    good, bad = sshd_nodes(2)
    inventory = tmp_path / "nodes.csv"
    inventory.write_text("name,host,port,user,key_file\r\n"
                         f"{good.name},{good.host},{good.port},{good.user},{good.key_file}\r\n"
                         f"{bad.name},{bad.host},{bad.port},nosuchuser,{bad.key_file}\r\n")
    result = labdeck(data_dir, "node", "import", str(inventory), "--accept-host-keys")
    assert result.returncode == 2
    assert "nothing was imported: 1 of 2 nodes failed the login check" in result.stderr
    assert bad.name in result.stderr and good.name not in result.stderr.split("(", 1)[1]
    assert node_names(data_dir) == ["this-computer"]


def test_an_inventory_with_a_password_is_refused_before_anything_connects(data_dir, tmp_path):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[lab]\nbox ansible_host=10.9.9.9 ansible_user=me ansible_ssh_pass=hunter2\n")
    result = labdeck(data_dir, "node", "import", str(inventory))
    assert result.returncode == 2
    assert "hosts.ini:2:" in result.stderr and "--password-stdin" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert node_names(data_dir) == ["this-computer"]
