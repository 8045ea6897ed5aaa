"""Node secrets in the keyring are keyed by catalog identity: two catalogs on one PC with a node
of the same name keep separate passwords, old name-only entries are migrated, and a keyring that
stores secrets in plain text is refused unless the test suite's opt-in is set."""

from __future__ import annotations

import os
import subprocess
import sys

import keyring

from labdeck.core.models import Node, Transport
from labdeck.engine.engine import Engine
from labdeck.store import secrets
from labdeck.store.identity import catalog_token


def _node(name: str) -> Node:
    return Node(name=name, transport=Transport.SSH, host="192.0.2.1", username="lab")


def test_two_catalogs_keep_their_own_secret_for_a_node_of_the_same_name(tmp_path):
    first, second = Engine(tmp_path / "desk1"), Engine(tmp_path / "desk2")
    try:
        first.add_node(_node("x"), secret="first-password", check=False)
        second.add_node(_node("x"), secret="second-password", check=False)
        assert secrets.get_secret(first.catalog.get_node("x").credential_ref) == "first-password"
        assert secrets.get_secret(second.catalog.get_node("x").credential_ref) == "second-password"
        second.nodes.remove("x")
        assert secrets.get_secret(first.catalog.get_node("x").credential_ref) == "first-password"
    finally:
        first.close()
        second.close()


def test_a_secret_keyed_by_node_name_alone_is_migrated_at_the_next_start(tmp_path):
    with Engine(tmp_path / "old") as engine:  # as an older LabDeck left it
        node = _node("legacy-node")
        node.credential_ref = "node:legacy-node"
        engine.catalog.add_node(node)
        keyring.set_password("LabDeck", "node:legacy-node", "old-password")
    with Engine(tmp_path / "old") as engine:
        ref = engine.catalog.get_node("legacy-node").credential_ref
        assert ref == f"node:{catalog_token(engine.catalog)}:legacy-node"
        assert secrets.get_secret(ref) == "old-password"
    # the shared entry stays for another catalog that still uses it
    assert keyring.get_password("LabDeck", "node:legacy-node") == "old-password"


def test_a_plaintext_keyring_is_refused_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LABDECK_ALLOW_INSECURE_KEYRING"}
    env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    result = subprocess.run(
        [sys.executable, "-m", "labdeck.cli", "--data-dir", str(tmp_path / "data"), "node", "add", "gpu1",
         "--host", "192.0.2.1", "--user", "lab", "--password-stdin", "--no-check"],
        input="s3cret\n", capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0
    assert "keeps secrets unencrypted" in result.stderr and "PlaintextKeyring" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "s3cret" not in "".join(p.read_text(errors="replace") for p in (tmp_path / "xdg").rglob("*") if p.is_file())
    listed = subprocess.run([sys.executable, "-m", "labdeck.cli", "--data-dir", str(tmp_path / "data"), "node", "list"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert "gpu1" not in listed.stdout
