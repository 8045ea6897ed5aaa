"""Nodes imported with one password for all of them (--password-stdin): each gets its own
keyring entry under this catalog's name for it, and the password works for a later login."""

from __future__ import annotations

import json

from tests.support.cli import labdeck


def test_imported_nodes_keep_the_password_given_on_stdin(data_dir, tmp_path):
    inventory = tmp_path / "nodes.csv"
    inventory.write_text("name,host,user\nrender-01,10.9.9.1,lab\nrender-02,10.9.9.2,lab\n")
    result = labdeck(data_dir, "node", "import", str(inventory), "--no-check", "--password-stdin",
                     stdin="s3cret-for-all\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    nodes = {n["name"]: n for n in json.loads(labdeck(data_dir, "node", "list", "--json").stdout)}
    assert {"render-01", "render-02"} <= set(nodes)
    refs = {nodes[name].get("credential_ref") for name in ("render-01", "render-02")}
    assert None not in refs and len(refs) == 2  # one keyring entry per node
    assert "s3cret-for-all" not in json.dumps(nodes)  # only the reference is in the catalog
